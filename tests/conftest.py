"""The suite's root conftest: `tests` names this folder, whatever else is installed.

label-studio-converter (a test dependency: it reads what `segmad export` writes) installs a
top-level package named `tests` into site-packages. A regular package found anywhere on sys.path
beats this folder (a namespace package), so `from tests.unit... import` would reach theirs.
"""

import sys
import types
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)

if list(getattr(sys.modules.get("tests"), "__path__", [])) != [_HERE]:
    _package = types.ModuleType("tests", __doc__)
    _package.__path__ = [_HERE]
    sys.modules["tests"] = _package


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory) -> Path:
    """The tiny zoo's folder (simulation.zoo.ensure_tiny_zoo), trained once for the whole session.

    Training it takes minutes on one core; the study's and the e2e run's tests share it (it is
    deterministic, so a test that trains its own would get the same checkpoints).
    """
    from segmad.simulation.zoo import ensure_tiny_zoo

    folder = tmp_path_factory.mktemp("tiny-zoo")
    ensure_tiny_zoo(folder)
    return folder
