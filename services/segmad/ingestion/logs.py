"""Moved to `segmad.runtime.logs`; kept only until rounds/worker.py imports it from there."""

from segmad.runtime.logs import JsonFormatter, logging_config

__all__ = ["JsonFormatter", "logging_config"]
