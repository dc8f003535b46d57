"""A command whose module needs an extra the install lacks is a user error naming the extra; any other missing
module is a defect and stays a traceback."""

from __future__ import annotations

import types

import pytest

from segmad import cli


def _command(monkeypatch, body: str) -> None:
    module = types.ModuleType("segmad_test_command")
    exec(body, module.__dict__)
    monkeypatch.setitem(__import__("sys").modules, "segmad_test_command", module)
    monkeypatch.setitem(cli.COMMANDS, "probe", ("segmad_test_command", "a command for this test"))


def test_an_extra_missing_on_import_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "probe", ("segmad_test_needs_minio", "a command for this test"))

    def find(name, *args, **kwargs):
        if name == "segmad_test_needs_minio":
            raise ModuleNotFoundError("No module named 'minio'", name="minio")
        return real(name, *args, **kwargs)

    real = cli.importlib.import_module
    monkeypatch.setattr(cli.importlib, "import_module", find)
    assert cli.main(["probe", "--help"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == ("segmad probe: error: needs the Python package 'minio', which this install lacks: "
                    "pip install 'segmad[train,services]' (or 'segmad[all]' for every command)")


def test_an_extra_missing_while_running_names_the_extra(monkeypatch, capsys):
    _command(monkeypatch, "def add_arguments(parser): pass\n"
                          "def run(args):\n    import onnxruntime_not_here\n")
    monkeypatch.setitem(cli.EXTRAS, "onnxruntime_not_here", "models")
    assert cli.main(["probe"]) == 2
    assert "pip install 'segmad[models]'" in capsys.readouterr().err


def test_any_other_missing_module_is_not_hidden(monkeypatch):
    _command(monkeypatch, "def add_arguments(parser): pass\n"
                          "def run(args):\n    import segmad_no_such_module\n")
    with pytest.raises(ModuleNotFoundError, match="segmad_no_such_module"):
        cli.main(["probe"])


def test_a_path_that_cannot_be_used_as_asked_is_one_line(monkeypatch, capsys, tmp_path):
    (tmp_path / "img.jpg").write_bytes(b"\xff\xd8")
    _command(monkeypatch, "from pathlib import Path\ndef add_arguments(parser): parser.add_argument('out')\n"
                          "def run(args):\n    Path(args.out).mkdir(parents=True)\n")
    assert cli.main(["probe", str(tmp_path / "img.jpg" / "sub")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == f"segmad probe: error: {tmp_path / 'img.jpg' / 'sub'}: Not a directory"


def test_an_os_error_about_no_path_is_not_hidden(monkeypatch):
    _command(monkeypatch, "def add_arguments(parser): pass\n"
                          "def run(args):\n    raise ConnectionRefusedError(111, 'Connection refused')\n")
    with pytest.raises(ConnectionRefusedError):
        cli.main(["probe"])
