"""The stages of a round that every worker (and the embedded demo) calls: predict, score, mine, and their storage keys and sets."""
