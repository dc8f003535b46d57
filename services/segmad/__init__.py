"""segmad: find where a segmentation model fails in the wild and fix it (MAD troubleshooting).

From a notebook: `segmad.select(...)` mines M as `segmad select` does; `segmad.discrepancy`,
`segmad.size_bounds`, `segmad.mean_opinion_scores` and `segmad.select_test_set` are the core's
functions. They need only numpy and Pillow, and are imported on first use, so `import segmad`
stays instant for the `segmad` command.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it (PEP 562: loaded when first read)
_PUBLIC = {
    "select": "segmad.api",
    "discrepancy": "segmad.mad",
    "size_bounds": "segmad.mad",
    "mean_opinion_scores": "segmad.mad",
    "select_test_set": "segmad.mad",
}

__all__ = ["__version__", "discrepancy", "mean_opinion_scores", "select", "select_test_set", "size_bounds"]


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'segmad' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
