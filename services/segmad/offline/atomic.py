"""Moved to `segmad.files`; kept only until rounds/cli.py and offline/select_cmd.py import it from there."""

from segmad.files import write_text_atomic

__all__ = ["write_text_atomic"]
