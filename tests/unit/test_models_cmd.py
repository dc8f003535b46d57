"""`segmad models`: the user errors it reports before talking to TorchServe."""

from __future__ import annotations

from segmad.cli import main


def test_publishing_without_a_torchserve_url_is_a_user_error(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("SEGMAD_TORCHSERVE_URL", raising=False)
    module = tmp_path / "m.pt"
    module.write_bytes(b"x")
    assert main(["models", "publish", "m", "--checkpoint", str(module), "--model-store", str(tmp_path)]) == 2
    assert "SEGMAD_TORCHSERVE_URL" in capsys.readouterr().err


def test_a_torchscript_module_needs_its_input_size_and_classes(tmp_path, capsys):
    module = tmp_path / "m.pt"
    module.write_bytes(b"x")
    argv = ["models", "--torchserve", "http://127.0.0.1:9", "publish", "m", "--version", "1",
            "--torchscript", str(module), "--model-store", str(tmp_path)]
    assert main(argv) == 2
    assert "--input-size" in capsys.readouterr().err


def test_a_missing_module_file_is_a_user_error(tmp_path, capsys):
    argv = ["models", "--torchserve", "http://127.0.0.1:9", "publish", "m", "--version", "1",
            "--torchscript", str(tmp_path / "absent.pt"), "--input-size", "64", "--classes", "a", "b",
            "--model-store", str(tmp_path)]
    assert main(argv) == 2
    assert "no such file" in capsys.readouterr().err


def test_an_unreachable_torchserve_is_a_user_error(capsys):
    assert main(["models", "--torchserve", "http://127.0.0.1:9", "list"]) == 2
    assert "cannot reach TorchServe" in capsys.readouterr().err


def test_an_unreachable_torchserve_is_one_line_on_stderr_whatever_was_tried_before(tmp_path):
    # In a process of its own: the suite's log capture would hide the retries' lines that a user would see.
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "segmad.cli", "models", "--torchserve", "http://127.0.0.1:9",
                          "set-default", "ghost", "v0"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 2
    (line,) = run.stderr.strip().splitlines()
    assert "cannot reach TorchServe" in line
