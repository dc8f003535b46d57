"""`segmad study --small`: the whole grid on the tiny zoo, its outputs, resumption and sane values."""

from __future__ import annotations

import json
import math

import pytest

from segmad import cli
from segmad.models import COMPETITOR_ARCHS, TARGET_ARCH
from segmad.simulation.zoo import ensure_zoo
from segmad.study import shared as shared_file
from segmad.study.finetuning import Task, run_task
from segmad.study.grid import SELECTORS, SMALL, StudyConfig, cells


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny_zoo):
    """The small grid run once with two worker processes: (output folder, zoo folder, study.json)."""
    zoo_dir, out = tiny_zoo, tmp_path_factory.mktemp("study")
    assert cli.main(["study", "--small", "--zoo", str(zoo_dir), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    return out, zoo_dir, json.loads((out / "study.json").read_text())


def test_every_cell_of_the_small_grid_is_measured_once(study):
    out, _, doc = study
    expected = {c.key(StudyConfig(**SMALL)) for c in cells(StudyConfig(**SMALL))}
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["key"] for r in lines) == sorted(expected)
    assert {r["selector"] for r in doc["rows"]} == set(SELECTORS)


def test_gains_are_finite_and_mads_s_is_no_larger_than_its_budget(study):
    _, _, doc = study
    for cell in doc["cells"]:
        if cell["selector"] == "mad":
            assert math.isfinite(cell["gain_wild"]) and math.isfinite(cell["t0_change"])
            assert 0 < cell["size"] <= cell["budget"] and cell["ratings"] == cell["candidates"] * 3


def test_worst_finds_only_failures_until_the_pools_failures_run_out(study):
    _, _, doc = study
    failures = min(c["pool_failures"] for c in doc["cells"])
    worst = doc["precision_at_k"]["worst"]["mean"]
    assert failures > 0 and all(p == 1.0 for p in worst[:failures])


def test_random_finds_failures_at_about_the_pools_failure_rate(study):
    _, _, doc = study
    rate = sum(c["pool_failures"] for c in doc["cells"] if c["selector"] == "ceiling-pool") / (2 * SMALL["pool_size"])
    randoms = [c["precision_s"] for c in doc["cells"] if c["selector"] == "random"]
    assert abs(sum(randoms) / len(randoms) - rate) < 0.3
    assert doc["precision_at_k"]["random"]["mean"][-1] < doc["precision_at_k"]["worst"]["mean"][-1] + 1e-9


def test_the_report_holds_the_table_the_aims_and_the_plots(study):
    out, _, doc = study
    page, markdown = (out / "index.html").read_text(), (out / "study.md").read_text()
    assert "Does MAD beat cheaper selections?" in page and "mad-adaptive" in page and "data:image/png" in page
    assert "| mad | 4 | 2 |" in markdown and "![gain_vs_budget](figures/gain_vs_budget.png)" in markdown
    for name in ("gain_vs_budget", "precision_at_k", "shifted_gain_vs_budget"):
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert {a["claim"].split(" ")[0] for a in doc["aims"]} >= {"MAD's", "label", "adaptive"}
    row = next(r for r in doc["rows"] if r["selector"] == "mad" and r["budget"] == 4)
    assert row["gain_wild"]["n"] == 2 and row["gain_wild"]["lo"] <= row["gain_wild"]["mean"] <= row["gain_wild"]["hi"]
    # MAD against entropy and random, seed by seed: the mean difference is the difference of the rows' means.
    paired = {(p["budget"], p["other"]): p for p in doc["paired"]}
    assert set(paired) == {(b, o) for b in (4, 8) for o in ("entropy", "random")}
    other = next(r for r in doc["rows"] if r["selector"] == "random" and r["budget"] == 4)
    assert paired[4, "random"]["gain_wild"]["mean"] == pytest.approx(row["gain_wild"]["mean"] - other["gain_wild"]["mean"])
    assert "MAD against entropy and random" in page and "| 8 | random |" in markdown


def test_a_rerun_skips_every_measured_cell(study, capsys):
    out, zoo_dir, doc = study
    before = (out / "results.jsonl").read_text()
    assert cli.main(["study", "--small", "--zoo", str(zoo_dir), "--out", str(out), "--workers", "2"]) == 0
    assert f"{len(doc['cells'])} of {len(doc['cells'])} cells already measured" in capsys.readouterr().err
    assert (out / "results.jsonl").read_text() == before


def test_a_fine_tune_in_this_process_equals_the_workers(study):
    out, zoo_dir, doc = study
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    cell = next(c for c in lines if c["selector"] == "worst" and c["seed"] == 0 and c["budget"] == 4)
    shared = next((out / "shared").glob("default-*-seed0.npz"))
    train_sets = next((out / "shared").glob("train-sets-*.npz"))
    again = run_task(Task(cell["key"], tuple(cell["chosen"]), str(shared), str(train_sets), str(zoo_dir), "demo",
                          SMALL["finetune_max_steps"], 0))
    assert again["wild"] == cell["wild"] and again["t0"] == cell["t0"]


def test_the_competitors_on_w_are_cached_per_seed_and_held_against_each_cell(study, tmp_path):
    out, zoo_dir, doc = study
    block = doc["competitors_on_w"]
    assert set(block["competitors"]) == set(COMPETITOR_ARCHS) and block["v0_target"]["arch"] == TARGET_ARCH
    for scores in [*block["competitors"].values(), block["v0_target"]]:
        for m in ("wild", "wild_shifted"):
            assert scores[m]["n"] == 2 and 0.0 <= scores[m]["mean"] <= 1.0
        assert 0.0 <= scores["t0_zoo"] <= 1.0
    npzs = sorted((out / "shared").glob("default-*-seed*.npz"))
    assert len(npzs) == 2
    cached = {}
    for npz in npzs:
        record = json.loads(shared_file.competitors_path(npz).read_text())
        assert set(record["competitors"]) == set(COMPETITOR_ARCHS)
        assert all(0.0 <= c[m] <= 1.0 for c in record["competitors"].values() for m in ("wild", "wild_shifted"))
        cached[record["seed"]] = record
    for arch in COMPETITOR_ARCHS:
        mean = sum(cached[s]["competitors"][arch]["wild"] for s in cached) / 2
        assert block["competitors"][arch]["wild"]["mean"] == pytest.approx(mean)
    # the fine-tuned target against the best competitor, seed by seed, recounted from results.jsonl
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    best = {s: max(c["wild"] for c in r["competitors"].values()) for s, r in cached.items()}
    for row in doc["rows"]:
        wild = {}
        for cell in (c for c in lines if c["selector"] == row["selector"] and c["budget"] == row["budget"]):
            wild.setdefault(cell["seed"], []).append(cell["wild"])
        expected = sum(sum(ws) / len(ws) > best[s] for s, ws in wild.items())
        assert row["overtakes_competitors_on_w"] == {"overtaken_on": expected, "seeds": 2}
    aim = next(a for a in doc["aims"] if a["claim"] == "the fine-tuned target overtakes every competitor on W")
    mad = [r["overtakes_competitors_on_w"] for r in doc["rows"] if r["selector"] == "mad"]
    assert aim["holds"] is any(o["overtaken_on"] == o["seeds"] for o in mad) and "best competitor" in aim["evidence"]
    assert "The zoo on W" in (out / "study.md").read_text() and "The zoo on W" in (out / "index.html").read_text()
    # recomputed from a copy of seed 0's npz: the same scores, now cached beside the copy
    copy = tmp_path / npzs[0].name
    copy.write_bytes(npzs[0].read_bytes())
    zoo, _ = ensure_zoo(zoo_dir, progress=False)
    assert shared_file.scores_on_w(copy, zoo) == cached[0] and shared_file.competitors_path(copy).exists()


def test_a_bad_option_is_one_line_and_exit_status_2(capsys, tmp_path):
    assert cli.main(["study", "--small", "--selectors", "mad,oracle", "--out", str(tmp_path)]) == 2
    assert "unknown selectors ['oracle']" in capsys.readouterr().err


def test_on_a_redundant_world_the_table_counts_the_distinct_scenes_of_s(study):
    """Scene of D's image i in the redundant world is i mod pool_scenes; the report counts S's distinct ones."""
    from segmad.study.report import summarize, table_rows

    out, _, _ = study
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    config = StudyConfig(**{**SMALL, "world": "redundant"})  # |D| = 60: 3 scenes
    doc = summarize(config, rows, {}, {}, 1)
    mad = [r for r in rows if r["selector"] == "mad" and r["budget"] == 8]
    row = next(r for r in doc["rows"] if r["selector"] == "mad" and r["budget"] == 8)
    expected = sum(len({i % 3 for i in r["chosen"]}) for r in mad) / len(mad)
    assert row["scenes_s"]["mean"] == pytest.approx(expected) and 1 <= expected <= 3
    assert "distinct scenes in S" in table_rows(doc)[0]
    default = summarize(StudyConfig(**SMALL), rows, {}, {}, 1)
    assert "distinct scenes in S" not in table_rows(default)[0]
