"""Offline mining: `segmad select` over label maps a user already has on disk."""
