"""A tiny end-to-end run of Algorithm 1 on the embedded ports (seconds, planted models).

The zoo's architectures are swapped for planted fakes (the catalog builds them from their
checkpoints like any model), so the run goes through the controller and the trainer as the demo does.
"""

import dataclasses
import json
import math

import pytest

from segmad import bootstrap
from segmad.demo.run import run_embedded
from segmad.models import ARCHITECTURES, TARGET_ARCH
from segmad.models.train import FinetuneConfig
from segmad.report import write_report
from segmad.settings import Settings
from segmad.simulation.config import RunConfig
from segmad.simulation.measures import Measures
from segmad.simulation.summary import figures, summarize
from segmad.world import WorldConfig
from world_fakes import PlantedModel, TruthTable

CONFIG = RunConfig(seed=3, pool_size=48, wild_size=12, rounds=1, n3=2, n4=4, test_size=4, annotators=2,
                   finetune_max_steps=1, batch_size=64)
WORLD = WorldConfig(size=32, s0_size=16, t0_size=8, pool_size=48, wild_size=12)
TARGET_FAILS = {f"pool-{i:06d}" for i in range(0, 48, 4)}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    wild = dataclasses.replace(WORLD, seed=CONFIG.seed)
    table = TruthTable([(WORLD, "s0", WORLD.s0_size), (WORLD, "t0", WORLD.t0_size),
                        (wild, "pool", wild.pool_size), (wild, "wild", wild.wild_size)])
    # The target fails on every 4th pool image; each competitor fails on a few others.
    fails = {arch: TARGET_FAILS if arch == TARGET_ARCH else {f"pool-{i:06d}" for i in range(n, 48, 13)}
             for n, arch in enumerate(ARCHITECTURES)}
    database_url = f"sqlite:///{root / 'c.db'}"
    with pytest.MonkeyPatch.context() as patch:
        for arch in ARCHITECTURES:  # whoever builds an architecture from a checkpoint gets its fake
            patch.setitem(ARCHITECTURES, arch, lambda C, fails_on=fails[arch]: PlantedModel(table, C, fails_on))
        zoo = {arch: ARCHITECTURES[arch](WORLD.num_classes) for arch in ARCHITECTURES}
        ports = bootstrap.build(Settings(data_dir=root, database_url=database_url,
                                         blob_url=f"file://{root / 'blobs'}", bus="memory"))
        measures = Measures(ports, CONFIG, WORLD, wild)
        result = run_embedded(ports, database_url, measures, zoo, FinetuneConfig.demo(max_steps=1), progress=False,
                              say=lambda line: None)
        yield measures, result, ports
    ports.close()


def test_every_round_mines_selects_and_evaluates(run):
    _, result, _ = run
    assert [r.round for r in result.rounds] == [1, 2]  # the catalog's round numbers
    for record in result.rounds:
        assert set(record.counterexamples) <= set(record.candidates)
        assert set(record.test_set) <= set(record.candidates) - set(record.counterexamples)
        assert set(record.t0) == {"target"} | {a for a in ARCHITECTURES if a != "deeplabv3plus"}


def test_the_targets_planted_failures_in_m_rank_first_in_s(run):
    _, result, _ = run
    first = result.rounds[0]
    failures = sorted(set(first.candidates) & TARGET_FAILS)
    assert failures, "the competitors, right where the target fails, must put some failures in M"
    assert all(first.true_miou[x] < 0.5 for x in failures)
    ranked = sorted(first.candidates, key=lambda x: (first.mos[x], x))  # S is M's n4 lowest MOS
    assert sorted(ranked[: len(failures)]) == failures
    assert set(failures) <= set(first.counterexamples)


def test_images_labelled_in_a_round_are_not_mined_again(run):
    _, result, _ = run
    first, second = result.rounds
    assert not set(second.candidates) & (set(first.counterexamples) | set(first.test_set))


def test_the_catalog_holds_the_rounds_heaps_sets_and_lineage(run):
    _, result, ports = run
    catalog = ports.catalog
    assert [r.state for r in catalog.rounds()] == ["done", "done"]
    heap_ids = {m["image"] for h in catalog.load_heaps(1) for m in h["members"]}
    assert sorted(heap_ids) == result.rounds[0].candidates == catalog.round_images(1, "candidates")
    v1 = catalog.model_version("target", "v1")
    assert v1.parent_version == "v0" and v1.trained_on_round == 1
    assert catalog.default_version("target") == "v1"  # the baselines' fine-tunes never serve


def test_summary_has_the_documented_schema_and_the_report_is_written(run, tmp_path):
    measures, result, _ = run
    summary = summarize(result)
    assert [r["round"] for r in summary["rounds"]] == [1, 2]
    assert {"t0", "t", "wild", "m_size", "s_size", "t_size"} <= set(summary["rounds"][0])
    assert "target" in summary["rounds"][0]["wild"]
    assert set(summary["baselines"]) == {"mad", "entropy", "random"}
    assert set(summary["cost"]) == {"weak_hours", "dense_hours", "dense_all_m_hours"}
    assert set(summary["precision"]) == {"m", "s", "random"}
    assert summary["zoo"]["target"]["arch"] == TARGET_ARCH
    assert summary["cost"]["weak_hours"] == pytest.approx(
        sum(b.seconds for k, _, b in result.bookings if k == "rating") / 3600)
    index = write_report(tmp_path / "report", summary, figures(result, summary, measures.galleries(result)))
    page = index.read_text()
    assert "Table 1" in page and "data:image/png;base64," in page and "<script" not in page
    saved = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert saved["rounds"][0]["m_size"] == len(result.rounds[0].candidates)
    assert all(not math.isnan(v) for v in saved["rounds"][0]["t0"].values())
