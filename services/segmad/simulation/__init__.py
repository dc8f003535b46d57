"""Runs of Algorithm 1 on the synthetic world: seeding a store, simulated people, and what only such a run can measure.

The rounds themselves are the controller's and the trainer's (`segmad.rounds`, `segmad.trainer`);
this package plays them the way a team would, with people who know the world's truth, and
measures the outcome against that truth (W, precision, baselines, galleries). The embedded demo
and `segmad e2e` drive it on two sets of adapters; `segmad round report` measures with it.
"""
