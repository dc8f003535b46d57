"""`segmad stack` on a folder where no stack was ever started: it says so and creates nothing."""

from __future__ import annotations

from segmad.cli import main


def test_status_without_a_stack_says_so_and_fails(tmp_path, capsys):
    assert main(["stack", "status", "--dir", str(tmp_path / "none")]) == 1
    assert "no stack" in capsys.readouterr().out and not (tmp_path / "none").exists()


def test_down_without_a_stack_does_nothing(tmp_path):
    assert main(["stack", "down", "--dir", str(tmp_path / "none")]) == 0 and not (tmp_path / "none").exists()


def test_measure_without_a_started_stack_is_a_user_error(tmp_path, capsys):
    (tmp_path / "stack.json").write_text('{"ports": {}, "s3_access_key": "a", "s3_secret_key": "b"}')
    assert main(["stack", "measure", "--dir", str(tmp_path)]) == 2
    assert "never started" in capsys.readouterr().err
