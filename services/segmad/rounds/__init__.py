"""The rounds of Algorithm 1: ingest, predict, mine, weak-label, select, dense-label, evaluate, fine-tune."""
