"""The report is served to admins only, from the listed files of the report folder, under a strict CSP."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest

from labelling_fixtures import app, client, login, png, store  # noqa: F401  (fixtures)
from segmad.labelling.security import CSP
from segmad.report import write_report
from segmad.settings import Settings

SUMMARY = {"description": "a tiny run", "rounds": [
    {"round": 1, "t0": {"target": 0.6}, "t": {"target": 0.4}, "wild": {"target": 0.3},
     "m_size": 10, "s_size": 2, "t_size": 3}]}
FIGURE = png(np.full((4, 4, 3), 200, np.uint8))


@pytest.fixture
def report(app, tmp_path):
    """A report written as report/write.py writes it, in the app's report folder."""
    folder = tmp_path / "report"
    write_report(folder, SUMMARY, {"mos_histogram": FIGURE})
    app.config["REPORT_DIR"] = folder
    return folder


@pytest.fixture
def admin(client):
    login(client, "admin")
    return client


def test_admins_get_the_report_page(admin, report):
    page = admin.get("/report")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"segmad run report" in page.data and b"a tiny run" in page.data
    assert admin.get("/report/").status_code == 200


def test_the_page_may_use_its_inline_style_but_no_script(admin, report):
    policy = admin.get("/report").headers["Content-Security-Policy"]
    style = re.search(r"<style>(.*?)</style>", (report / "index.html").read_text(), re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}'" in policy
    assert "script-src 'none'" in policy and "unsafe-inline" not in policy
    assert "img-src 'self' data:" in policy  # the figures are inline data: images


def test_other_pages_keep_the_apps_policy(admin, report):
    assert admin.get("/login").headers["Content-Security-Policy"] == CSP


def test_figures_and_summary_are_served_by_their_listed_names(admin, report):
    figure = admin.get("/report/figures/mos_histogram.png")
    assert figure.status_code == 200 and figure.mimetype == "image/png" and figure.data == FIGURE
    assert admin.get("/report/summary.json").get_json()["description"] == "a tiny run"


@pytest.mark.parametrize("url", ["/report/../db.sqlite", "/report/figures/../../db.sqlite",
                                 "/report/%2e%2e/db.sqlite", "/report/..%2fdb.sqlite", "/report/outside.txt",
                                 "/report/missing.png", "/report//etc/passwd"])
def test_names_outside_the_listing_are_not_found(admin, report, tmp_path, url):
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", report / "outside.txt")
    response = admin.get(url, follow_redirects=True)
    assert response.status_code == 404
    assert b"secret" not in response.data and b"SQLite" not in response.data


def test_annotators_are_refused_and_anonymous_callers_sent_to_sign_in(app, client, report):
    anonymous = client.get("/report/summary.json")
    assert anonymous.status_code == 302 and "/login?next=/report/summary.json" in anonymous.headers["Location"]
    login(client, "ann")
    assert client.get("/report").status_code == 403
    assert client.get("/report/summary.json").status_code == 403


def test_no_report_yet_is_a_clear_not_found(app, admin, tmp_path):
    app.config["REPORT_DIR"] = tmp_path / "nothing-here"
    response = admin.get("/report")
    assert response.status_code == 404 and b"no report has been written yet" in response.data


def test_a_folder_of_reports_serves_the_newest(app, admin, tmp_path):
    for age, name in ((100, "round-1"), (0, "round-2")):
        write_report(tmp_path / "reports" / name, SUMMARY | {"description": name}, {})
        index = tmp_path / "reports" / name / "index.html"
        os.utime(index, (index.stat().st_mtime - age,) * 2)
    app.config["REPORT_DIR"] = tmp_path / "reports"
    assert b"round-2" in admin.get("/report").data


def test_the_report_folder_defaults_to_the_data_folder_and_follows_the_setting(monkeypatch):
    monkeypatch.delenv("SEGMAD_REPORT_DIR", raising=False)
    assert Settings(data_dir=Path("/srv/segmad")).report_dir == Path("/srv/segmad/report")
    monkeypatch.setenv("SEGMAD_REPORT_DIR", "/srv/reports")
    assert Settings(data_dir=Path("/srv/segmad")).report_dir == Path("/srv/reports")


def test_admins_find_a_link_to_the_report_and_annotators_do_not(app, client):
    login(client, "ann")
    assert b'href="/report"' not in client.get("/").data
    login(client, "admin")
    assert b'href="/report"' in client.get("/").data
