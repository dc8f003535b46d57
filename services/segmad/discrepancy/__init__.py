"""The discrepancy worker: d(f_t(x), g_j(x)) for each pair as its maps appear, into the round's heaps."""
