"""`pip install segmad` without extras: a fresh venv runs `segmad select` with numpy and Pillow alone, never torch."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
# what pip reports when no index or find-links can serve a requirement (numpy, Pillow, setuptools)
NO_INDEX = ("No matching distribution found", "Could not find a version", "NewConnectionError", "Network is unreachable")
MAIN_SEES = (  # the CLI's main, run in the fresh venv; prints the modules it loaded
    "import json, sys\nfrom segmad.cli import main\nrc = main(sys.argv[1:])\n"
    "print(json.dumps({'rc': rc, 'modules': sorted({m.split('.')[0] for m in sys.modules})}))\n"
)


def copy_project(dest: Path) -> Path:
    # pip builds a local directory in place (build/, egg-info): build from a copy, never the shared tree
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "services", dest / "services",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    return dest


def write_maps(root: Path) -> None:
    """Two competitors and a target over 4 images, 3 training masks: the smallest run that fills heaps."""
    rng = np.random.default_rng(0)
    for model in ("mine", "g1", "g2"):
        (root / "pred" / model).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 3, (8, 8), dtype=np.uint8)).save(root / "pred" / model / f"img{i}.png")
    (root / "train").mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 3, (8, 8), dtype=np.uint8)).save(root / "train" / f"m{i}.png")


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A new venv with `pip install <project>` and no extras."""
    tmp = tmp_path_factory.mktemp("fresh")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    project = copy_project(tmp / "project")
    started = time.perf_counter()
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", str(project)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    if result.returncode != 0 and any(s in result.stdout + result.stderr for s in NO_INDEX):
        pytest.skip(f"pip cannot reach a package index for numpy/Pillow/setuptools: {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"fresh venv: pip install took {time.perf_counter() - started:.1f} s")
    return venv


@pytest.mark.slow
def test_the_plain_install_requires_only_numpy_and_pillow(fresh_venv):
    listed = subprocess.run([str(fresh_venv / "bin" / "pip"), "list", "--format", "json"],
                            capture_output=True, text=True, check=True)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert names - {"pip", "setuptools", "wheel"} == {"segmad", "numpy", "pillow"}


@pytest.mark.slow
def test_segmad_select_runs_without_torch_and_never_imports_it(fresh_venv, tmp_path):
    write_maps(tmp_path)
    out = tmp_path / "m.json"
    argv = ["select", "--predictions", str(tmp_path / "pred"), "--target", "mine",
            "--train-masks", str(tmp_path / "train"), "--num-classes", "2", "--n3", "2", "--out", str(out)]
    run = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", MAIN_SEES, *argv],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.splitlines()[-1])
    assert seen["rc"] == 0
    assert not {"torch", "tqdm"} & set(seen["modules"])
    document = json.loads(out.read_text())
    assert document["images"] and {h["competitor"] for h in document["heaps"]} == {"g1", "g2"}
    no_torch = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", "import torch"], capture_output=True, check=False)
    assert no_torch.returncode != 0


@pytest.mark.slow
def test_the_installed_console_script_answers_help(fresh_venv):
    run = subprocess.run([str(fresh_venv / "bin" / "segmad"), "select", "--help"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0 and "--predictions" in run.stdout


@pytest.mark.slow
def test_a_command_that_needs_an_extra_says_which_in_one_line(fresh_venv):
    for command in ("ingest", "zoo", "models"):
        run = subprocess.run([str(fresh_venv / "bin" / "segmad"), command, "--help"],
                             capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 2, run.stderr
        assert "Traceback" not in run.stderr
        (line,) = run.stderr.strip().splitlines()
        assert line.startswith(f"segmad {command}: error: needs the Python package ") and "pip install 'segmad[" in line


@pytest.mark.slow
def test_a_yaml_label_map_without_pyyaml_is_a_user_error_naming_the_extra(fresh_venv, tmp_path):
    write_maps(tmp_path)
    spec = tmp_path / "labels.yaml"
    spec.write_text("classes: [background, a, b]\nmodels: {}\n")
    argv = ["select", "--predictions", str(tmp_path / "pred"), "--target", "mine", "--train-masks",
            str(tmp_path / "train"), "--num-classes", "2", "--n3", "2", "--out", str(tmp_path / "m.json"),
            "--label-map", str(spec)]
    run = subprocess.run([str(fresh_venv / "bin" / "segmad"), *argv], capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 2
    (line,) = run.stderr.strip().splitlines()
    assert str(spec) in line and "PyYAML" in line and "JSON" in line
    assert not (tmp_path / "m.json").exists()
