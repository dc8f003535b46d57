"""The whole loop in one process on the embedded adapters: `segmad demo` / `make demo`."""
