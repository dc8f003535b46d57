"""The inference worker: every pool image through every competitor once and the target once per version."""
