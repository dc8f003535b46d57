"""The ingestion service: validate, normalise, store once by content, catalogue and announce images."""
