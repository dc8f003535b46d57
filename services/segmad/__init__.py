"""segmad: find where a segmentation model fails in the wild and fix it (MAD troubleshooting)."""

__version__ = "0.1.0"
