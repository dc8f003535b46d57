"""The run report: summary.json, PNG figures and a static index.html that opens from disk."""

from segmad.report.write import write_report

__all__ = ["write_report"]
