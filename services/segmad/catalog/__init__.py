"""The catalog: what segmad knows about images, models, predictions, rounds and labels (SQL)."""

from segmad.catalog.engine import make_engine
from segmad.catalog.migrate import migrate
from segmad.catalog.repository import Catalog

__all__ = ["Catalog", "make_engine", "migrate"]
