"""The catalog-only rounds report: every number from the catalog and the labelling records, no world truth."""

import io
import json
import statistics
from types import SimpleNamespace

import pytest
import torch

from segmad.catalog.records import Evaluation, ModelVersion
from segmad.cli import main
from segmad.labelling.agreement import ordinal_alpha
from segmad.offline.mining import training_bounds
from segmad.report.rounds_page import write_rounds_report
from segmad.report.rounds_report import rounds_summary
from segmad.rounds import control
from segmad.pipeline.keys import checkpoint_key
from segmad.catalog.states import DENSE_LABELLING, DONE
from round_world import (C, PEOPLE, POOL, add_people, ingest, make_ports, paint, rate, run_discrepancy,
                         run_inference, train_masks, truth_table)
from world_fakes import PlantedModel

CLASSES = ["<b>cat</b>", "dog & co", "bird"]
ODD_MODEL = "<img src=x onerror=alert(1)>"
HOUR = 3600.0


def start(ports, root, round_, version, n4):
    bounds = training_bounds(train_masks(root), C, progress=False)[0]
    return control.start(ports, round_, "target", version, 2, n4, bounds, CLASSES)


def vote_1(name, i, image_id):
    if i % 7 == 6:
        return "ood"
    a = 1 + i % 5
    return a if name == "ann-a" or i % 2 == 0 else min(5, a + 1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Round 1 done (v1 trained and evaluated), round 2 measuring and half labelled."""
    root = tmp_path_factory.mktemp("rounds")
    ports = make_ports(root)
    ingest(ports, POOL[:18])
    add_people(ports)
    log = {"ratings": {1: [], 2: []}, "masks": {1: [], 2: []}}
    start(ports, root, 1, "v0", n4=4)
    run_inference(ports)
    run_discrepancy(ports)
    m1, weak1 = control.close_mining(ports, 1, test_size=3)
    rate(ports, weak1, vote_1, lambda name, i: (2.0 + i) if name == "ann-a" else (5.0 + 0.5 * i), log["ratings"][1])
    sel1 = control.select(ports, 1)
    paint(ports, sel1["dense_campaign"], log["masks"][1], send_back_first=True)
    control.finetune(ports, 1)
    # The trainer's outputs for round 1, as it stores them.
    buffer = io.BytesIO()
    module = PlantedModel(truth_table(), C, set())
    torch.save(module.state_dict(), buffer)
    ports.blobs.put(checkpoint_key("target", "v1"), buffer.getvalue())
    ports.catalog.add_model_version(ModelVersion(
        "target", "v1", "deeplabv3plus", "target", checkpoint_key("target", "v1"), "v0", 1,
        {"lr": 0.03, "t0_miou": 0.8, "t0_miou_by_lr": {"0.01": 0.78, "0.03": 0.8}, "counterexamples": 4,
         "counterexample_rounds": [1]}))
    ports.catalog.set_default_version("target", "v1")
    ports.segmenter.register("target", "v1", module)
    evaluations = {("target", "v0", "t0"): 0.81, ("target", "v0", "t1"): 0.42, ("unet", "v0", "t0"): 0.7,
                   ("unet", "v0", "t1"): 0.55, ("fcn8s", "v0", "t1"): 0.5, (ODD_MODEL, "v0", "t1"): 0.25,
                   ("target", "v1", "t0"): 0.8}
    # A competitor catalogued under a name with markup (never a default, so round 2 leaves it out).
    ports.catalog.add_model_version(ModelVersion(ODD_MODEL, "v0", "unet", "competitor", "models/odd.pt"))
    for (model, version, split), miou in evaluations.items():
        ports.catalog.save_evaluation(Evaluation(1, model, version, split, miou, [0.9, miou, None, 0.1]))
    ports.catalog.set_round_state(1, DONE)
    start(ports, root, 2, "v1", n4=2)
    run_inference(ports)
    run_discrepancy(ports)
    m2, weak2 = control.close_mining(ports, 2, test_size=3)
    rate(ports, weak2, lambda name, i, image_id: 1 + i % 5, lambda name, i: 3.0, log["ratings"][2])
    sel2 = control.select(ports, 2, measure_only=True)
    paint(ports, sel2["dense_campaign"], log["masks"][2], limit=1)
    yield SimpleNamespace(ports=ports, root=root, log=log, m={1: m1, 2: m2}, selected={1: sel1, 2: sel2},
                          campaigns={1: (weak1, sel1["dense_campaign"]), 2: (weak2, sel2["dense_campaign"])},
                          evaluations=evaluations)
    ports.close()


@pytest.fixture(scope="module")
def summary(run):
    return rounds_summary(run.ports)


def test_each_round_has_its_state_versions_and_set_sizes(run, summary):
    r1, r2 = summary["rounds"]
    assert (r1["round"], r1["state"], r1["target_version"], r1["trained_version"]) == (1, DONE, "v0", "v1")
    assert (r2["round"], r2["state"], r2["target_version"], r2["trained_version"]) == (2, DENSE_LABELLING, "v1", None)
    assert r2["measure_only"] and not r1["measure_only"]
    for r in (r1, r2):
        n, selected = r["round"], run.selected[r["round"]]
        assert r["m_size"] == len(run.m[n]) and r["s_size"] == selected["counterexamples"] == (4 if n == 1 else 2)
        assert r["t_size"] == selected["test"] and r["vetoed"] == selected["out_of_domain"]
        assert r["campaigns"] == {"weak": run.campaigns[n][0], "dense": run.campaigns[n][1]}


def test_mos_histogram_bins_the_mean_of_the_votes_rounded_half_up_and_counts_vetoes(run, summary):
    for r in summary["rounds"]:
        votes = {}
        for _, image_id, vote, _ in run.log["ratings"][r["round"]]:
            votes.setdefault(image_id, []).append(vote)
        expected = dict.fromkeys(["1", "2", "3", "4", "5", "vetoed"], 0)
        for v in votes.values():
            expected["vetoed" if "ood" in v else str(int(sum(v) / len(v) + 0.5))] += 1
        assert r["mos_histogram"] == expected
    assert summary["rounds"][0]["mos_histogram"]["vetoed"] == summary["rounds"][0]["vetoed"] > 0


def test_every_models_miou_on_t0_and_the_rounds_test_set_comes_from_the_evaluations(run, summary):
    r1, r2 = summary["rounds"]
    assert r1["t0"] == {f"{m}@{v}": x for (m, v, s), x in run.evaluations.items() if s == "t0"}
    assert r1["t"] == {f"{m}@{v}": x for (m, v, s), x in run.evaluations.items() if s == "t1"}
    assert r2["t0"] == r2["t"] == {}
    per_class = next(e["per_class"] for e in r1["evaluations"] if (e["model"], e["split"]) == ("unet", "t1"))
    assert per_class == {"background": 0.9, "<b>cat</b>": 0.55, "dog & co": None, "bird": 0.1}


def test_hours_are_the_recorded_seconds_of_the_rounds_campaigns(run, summary):
    for r in summary["rounds"]:
        weak = sum(s for *_, s in run.log["ratings"][r["round"]])
        dense = sum(s for *_, s in run.log["masks"][r["round"]])
        assert r["hours"] == pytest.approx({"weak": weak / HOUR, "dense": dense / HOUR})
    assert summary["rounds"][0]["hours"]["dense"] * HOUR == pytest.approx(
        sum(40.0 + i for i in range(len(run.log["masks"][1]))) + 25.0)  # the returned mask's second sitting counts
    total = sum(s for n in (1, 2) for key in ("ratings", "masks") for *_, s in run.log[key][n])
    assert summary["hours"]["total"] == pytest.approx(total / HOUR)


def test_each_annotator_has_counts_medians_reviews_and_hours(run, summary):
    for r in summary["rounds"]:
        n = r["round"]
        for person in r["annotators"]:
            name = person["annotator"]
            rated = [s for who, _, _, s in run.log["ratings"][n] if who == name]
            painted = [s for who, _, s in run.log["masks"][n] if who == name]
            reviewed = [1 for _, who, _ in run.log["masks"][n] if who == name]
            assert person["ratings"] == len(rated) and person["masks"] == len(painted)
            assert person["median_seconds_per_rating"] == pytest.approx(statistics.median(rated))
            assert person["median_seconds_per_mask"] == (pytest.approx(statistics.median(painted)) if painted else None)
            assert person["reviews"] == len(reviewed) + (1 if n == 1 and run.log["masks"][1][0][1] == name else 0)
            assert person["hours"] == pytest.approx((sum(rated) + sum(painted)) / HOUR)
        assert [p["annotator"] for p in r["annotators"]] == list(PEOPLE)


def test_agreement_is_the_ordinal_alpha_of_the_votes_left_out_vetoes(run, summary):
    units = {}
    for _, image_id, vote, _ in run.log["ratings"][1]:
        if vote != "ood":
            units.setdefault(image_id, []).append(vote)
    assert summary["rounds"][0]["agreement"] == pytest.approx(ordinal_alpha(units))
    assert 0 < summary["rounds"][0]["agreement"] < 1
    assert summary["rounds"][1]["agreement"] == pytest.approx(1.0)  # round 2: both gave the same votes


def test_lineage_lists_every_target_version_with_its_parent_round_s_and_lr(summary):
    v0, v1 = summary["lineage"]
    assert (v0["version"], v0["parent"], v0["round"], v0["lr"], v0["default"]) == ("v0", None, None, None, False)
    assert (v1["version"], v1["parent"], v1["round"], v1["counterexamples"], v1["counterexample_rounds"],
            v1["lr"], v1["t0_miou"], v1["default"]) == ("v1", "v0", 1, 4, [1], 0.03, 0.8, True)
    assert v1["t0_miou_by_lr"] == {"0.01": 0.78, "0.03": 0.8}
    assert summary["sets"] == {"s0": None, "t0": None}  # this catalog was never given S0 / T0 as sets


def test_the_page_escapes_every_name_and_inlines_its_charts(summary, tmp_path):
    index = write_rounds_report(tmp_path / "report", summary)
    page = index.read_text()
    assert "&lt;b&gt;cat&lt;/b&gt;" in page and "dog &amp; co" in page and "<b>cat" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;@v0" in page and "<img src=x" not in page
    assert "<script" not in page and page.count("data:image/png;base64,") == 2
    assert {p.name for p in (tmp_path / "report" / "figures").iterdir()} == {
        "miou_on_test_sets.png", "annotation_hours.png"}
    assert json.loads((tmp_path / "report" / "summary.json").read_text()) == json.loads(json.dumps(summary))


def test_round_report_on_a_catalog_without_world_run_writes_the_catalog_report(run, summary, tmp_path, monkeypatch,
                                                                                capsys):
    for key, value in (("SEGMAD_DATA_DIR", run.root), ("SEGMAD_DATABASE_URL", f"sqlite:///{run.root / 'c.db'}"),
                       ("SEGMAD_BLOB_URL", f"file://{run.root / 'blobs'}"), ("SEGMAD_BUS", "memory")):
        monkeypatch.setenv(key, str(value))
    assert main(["round", "report", "--out", str(tmp_path / "out")]) == 0
    assert "not a run on the synthetic world" in capsys.readouterr().err
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["kind"] == "rounds" and written["rounds"] == json.loads(json.dumps(summary["rounds"]))


def test_a_catalog_without_rounds_has_no_report(tmp_path, monkeypatch, capsys):
    ports = make_ports(tmp_path)
    ports.close()
    for key, value in (("SEGMAD_DATA_DIR", tmp_path), ("SEGMAD_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}"),
                       ("SEGMAD_BLOB_URL", f"file://{tmp_path / 'blobs'}"), ("SEGMAD_BUS", "memory")):
        monkeypatch.setenv(key, str(value))
    assert main(["round", "report", "--out", str(tmp_path / "out")]) == 2
    assert "no round yet" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
