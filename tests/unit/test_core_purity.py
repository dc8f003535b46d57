"""DESIGN §3: the core (mad, world, models) imports no adapter, service or I/O library.

A core package's `cli.py` is an entrypoint (it writes files for the user) and is exempt.
"""

import ast
from pathlib import Path

import pytest

import segmad

PACKAGE = Path(segmad.__file__).parent
CORE = ["mad", "world", "models"]
FORBIDDEN = (
    "segmad.adapters", "segmad.catalog", "segmad.bootstrap", "segmad.settings", "segmad.labelling",
    "sqlalchemy", "flask", "kafka", "minio", "requests", "urllib", "socket", "PIL",
)


def imported_names(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


@pytest.mark.parametrize("package", CORE)
def test_core_package_imports_no_adapter(package):
    files = sorted(f for f in (PACKAGE / package).rglob("*.py") if f.name != "cli.py")
    if not files:
        pytest.skip(f"segmad.{package} not written yet")
    bad = [
        f"{f.relative_to(PACKAGE)} imports {name}"
        for f in files
        for name in imported_names(f)
        if name.startswith(FORBIDDEN)
    ]
    assert bad == []
