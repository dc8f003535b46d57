"""The catalog: what segmad knows about images, models, predictions, rounds and labels (SQL)."""
