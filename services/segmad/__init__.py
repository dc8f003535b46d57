"""segmad: find where a segmentation model fails in the wild and fix it (MAD troubleshooting).

From a notebook: `segmad.select(...)` mines M as `segmad select` does; `segmad.distance`
(d = 1 − mIoU, the core's `mad.discrepancy`; `segmad.discrepancy` is the worker package),
`segmad.size_bounds`, `segmad.mean_opinion_scores` and `segmad.select_test_set` are the core's
functions. They need only numpy and Pillow, and are imported on first use, so `import segmad`
stays instant for the `segmad` command.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> (module that defines it, its name there) (PEP 562: loaded when first read)
_PUBLIC = {
    "select": ("segmad.api", "select"),
    "distance": ("segmad.mad", "discrepancy"),
    "size_bounds": ("segmad.mad", "size_bounds"),
    "mean_opinion_scores": ("segmad.mad", "mean_opinion_scores"),
    "select_test_set": ("segmad.mad", "select_test_set"),
}

__all__ = ["__version__", "distance", "mean_opinion_scores", "select", "select_test_set", "size_bounds"]


def __getattr__(name: str):
    if name in _PUBLIC:
        module, attribute = _PUBLIC[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'segmad' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
