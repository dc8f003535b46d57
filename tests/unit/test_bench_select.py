"""`segmad bench select`: realistic synthetic maps, and a tiny run that reports every figure."""

import json

import numpy as np
import pytest

from segmad.bench.synthetic import blocky_map, disagreeing_map
from segmad.bench.select import best_seconds_per_call
from segmad.cli import main


def test_blocky_maps_are_a_few_smooth_regions_not_noise():
    labels = blocky_map(np.random.default_rng(1), size=128, num_labels=21)
    assert len(np.unique(labels)) <= 5
    assert np.mean(labels[:, 1:] == labels[:, :-1]) > 0.95  # neighbours mostly agree


@pytest.mark.parametrize("low, high", [(0.01, 0.05), (0.20, 0.50)])
def test_disagreeing_maps_differ_on_the_asked_share_of_pixels(low, high):
    rng = np.random.default_rng(2)
    for _ in range(10):
        truth = blocky_map(rng, size=128, num_labels=21)
        share = np.mean(disagreeing_map(rng, truth, low, high, num_labels=21) != truth)
        assert low <= share <= high


def test_tiny_run_reports_per_pair_costs_and_end_to_end_times_as_json(capsys):
    argv = ["bench", "select", "--size", "32", "--pairs", "3", "--repeats", "1", "--images", "4",
            "--train-masks", "2", "--workers", "1", "--format", "json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["per_pair"]["pairs"]) == {"mostly agree", "strongly disagree"}
    assert report["per_pair"]["pairs"]["mostly agree"]["pairs_per_second_per_core"] > 0
    assert report["per_pair"]["label_counts_us"] > 0
    [run] = report["end_to_end"]["runs"]
    assert run["workers"] == 1 and run["decode_seconds"] > 0 and run["wall_seconds"] > 0
    assert run["speedup_over_first"] == 1.0
    for kind in report["per_pair"]["pairs"].values():  # d with the competitor's counts, as select scores
        assert kind["distance_and_counts_us"] > 0 and kind["ratio_to_floor_distance_and_counts"] > 0
    assert report["end_to_end"]["generate_seconds"] > 0
    assert report["end_to_end"]["independent_runs"] is None  # no workers value above 1 to compare with


def test_with_two_workers_two_independent_runs_give_the_ceiling(capsys):
    argv = ["bench", "select", "--size", "32", "--pairs", "2", "--repeats", "1", "--images", "6",
            "--train-masks", "2", "--workers", "1,2", "--format", "json"]
    assert main(argv) == 0
    e2e = json.loads(capsys.readouterr().out)["end_to_end"]
    assert [r["workers"] for r in e2e["runs"]] == [1, 2] and e2e["same_candidates"]
    independent = e2e["independent_runs"]
    assert independent["processes"] == 2 and independent["wall_seconds"] > 0
    assert independent["speedup"] == pytest.approx(2 * e2e["runs"][0]["wall_seconds"] / independent["wall_seconds"])


def test_table_names_each_pair_kind_and_each_workers_value(capsys):
    argv = ["bench", "select", "--size", "32", "--pairs", "2", "--repeats", "1", "--images", "3",
            "--train-masks", "2", "--workers", "1"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "mostly agree" in table and "strongly disagree" in table and "label_counts" in table
    assert "3 images x 6 models" in table and "M identical" in table
    assert "decoding one label map" in table and "identical" in table


def test_decoding_is_timed_against_pillow_for_each_png_kind_with_identical_pixels(capsys):
    argv = ["bench", "select", "--size", "40", "--pairs", "3", "--repeats", "1", "--images", "0", "--format", "json"]
    assert main(argv) == 0
    decode = json.loads(capsys.readouterr().out)["decode"]
    assert set(decode["kinds"]) == {"L, Pillow's default level", "L, segmad's encode_png", "P, VOC palette"}
    for kind in decode["kinds"].values():
        assert kind["identical"] is True
        assert kind["pillow_us"] > 0 and kind["codec_us"] > 0 and kind["speedup"] > 0


def test_each_kind_is_timed_in_the_same_rounds_as_its_floor():
    calls = []
    best = best_seconds_per_call({"floor": (lambda: calls.append("floor"), [()]),
                                  "d": (lambda: calls.append("d"), [()])}, repeats=3)
    assert calls == ["floor", "d"] * 3  # interleaved: a slow spell on a shared machine hits both
    assert set(best) == {"floor", "d"} and all(seconds >= 0 for seconds in best.values())


def test_an_independent_run_that_fails_is_reported_not_waited_for(tmp_path):
    from segmad.bench.select_end_to_end import independent_runs

    with pytest.raises(RuntimeError, match="independent select run failed"):
        independent_runs(tmp_path / "no-pool", labels=21, n3=5, processes=2)
