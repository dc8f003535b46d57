"""The ports' abstract classes beside their embedded adapters, and the real adapters (segmad.ports lists them)."""
