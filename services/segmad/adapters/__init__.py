"""Adapters for segmad's four ports (blob store, event bus, catalog, segmenter), DESIGN §3."""
