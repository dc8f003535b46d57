"""`segmad bench`: speed measurements, printed as a table or JSON (not timed tests)."""
