"""The demo's report links the study when one was written beside it (report/study/study.json)."""

from __future__ import annotations

from segmad.report import write_report

SUMMARY = {"description": "a tiny run", "rounds": [
    {"round": 1, "t0": {"target": 0.6}, "t": {"target": 0.4}, "wild": {"target": 0.3},
     "m_size": 10, "s_size": 2, "t_size": 3}]}


def test_the_report_links_a_study_written_beside_it(tmp_path):
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "study.json").write_text("{}")
    page = write_report(tmp_path, SUMMARY, {}).read_text()
    assert "<a href='study/index.html'>the study</a>" in page


def test_without_a_study_the_report_links_none(tmp_path):
    assert "study/index.html" not in write_report(tmp_path, SUMMARY, {}).read_text()
