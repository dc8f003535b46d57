"""`segmad e2e` at a reduced size: a fresh local stack of real servers, people simulated over HTTP.

The full size is `make e2e`. This run is the same code on a small pool with a tiny zoo: two mining
rounds (one fine-tuning), compared with the embedded demo on the same seed and pool.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("java") is None,
                    reason="TorchServe needs Java 17")
def test_two_rounds_over_the_stack_reach_the_embedded_conclusions(tmp_path, tiny_zoo):
    report = tmp_path / "report"
    shutil.copytree(tiny_zoo, tmp_path / "data" / "tiny-zoo")  # where `e2e --tiny-zoo` looks: trained once per session
    env = dict(os.environ, SEGMAD_DATA_DIR=str(tmp_path / "data"))
    for key in [k for k in env if k.startswith("SEGMAD_") and k != "SEGMAD_DATA_DIR"]:
        del env[key]  # nothing of the caller's configuration leaks into the private stack
    command = [sys.executable, "-m", "segmad.cli", "e2e", "--tiny-zoo", "--quiet", "--seed", "1",
               "--pool-size", "60", "--wild-size", "16", "--rounds", "1", "--n3", "3", "--n4", "6",
               "--test-size", "6", "--annotators", "2", "--finetune-max-steps", "2", "--no-baselines",
               "--compare", "--stack", str(tmp_path / "stack"), "--report", str(report), "--timeout", "300"]
    try:
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        # The killed run leaves its private stack up: take it down before failing.
        subprocess.run([sys.executable, "-m", "segmad.cli", "stack", "down", "--dir", str(tmp_path / "stack")],
                       cwd=REPO, env=env, capture_output=True, timeout=120)
        raise
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads((report / "summary.json").read_text())
    comparison = json.loads((report / "comparison.json").read_text())
    assert comparison["agree"], comparison
    assert not comparison["differing_conclusions"] and comparison["conclusions"]
    assert [r["round"] for r in summary["rounds"]] == [1, 2]  # the catalog's round numbers
    assert summary["rounds"][0]["finetune"]["counterexamples"] == summary["rounds"][0]["s_size"] > 0
    assert summary["rounds"][0]["cost_hours"]["weak"] > 0 and summary["rounds"][0]["cost_hours"]["dense"] > 0
    assert (report / "index.html").exists()
    # Nothing is left running: every server of the private stack was stopped.
    status = subprocess.run([sys.executable, "-m", "segmad.cli", "stack", "status", "--dir", str(tmp_path / "stack"), "--format", "json"],
                            cwd=REPO, env=env, capture_output=True, text=True)
    assert not [row for row in json.loads(status.stdout) if row["state"] == "running" and row["name"] != "postgres"]
