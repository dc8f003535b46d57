"""Rounds over running services: the stack's workers mine and train; simulated people rate and paint over HTTP.

The rounds are played by `segmad.simulation.play` as in the embedded demo; only the runtime
differs: here the controller's hand-overs are waited on (the inference and discrepancy workers
fill the heaps, the trainer service finishes the round) and people reach the labelling service
over HTTP.
"""

from __future__ import annotations

import math
import time
from typing import Callable

from torch import nn

from segmad.labelling.simulate import simulate_campaign
from segmad.ports import Ports
from segmad.report.checks import conclusions
from segmad.rounds import control
from segmad.simulation.measures import Measures
from segmad.simulation.play import play, seed
from segmad.simulation.records import RunRecord
from segmad.simulation.summary import summarize
from segmad.world.annotators import AnnotatorConfig


class OverServices:
    """Waits while the services do their part of a round."""

    def __init__(self, ports: Ports, timeout_s: float, progress: bool, say: Callable[[str], None]):
        self.ports, self.timeout_s, self.progress, self.say = ports, timeout_s, progress, say

    def mine(self, round_: int) -> None:
        control.wait_mined(self.ports, round_, self.timeout_s, self.say)

    def train(self, round_: int) -> None:
        control.wait_until_done(self.ports, round_, self.timeout_s, progress=self.progress)


class PeopleOverHttp:
    """The simulated annotators, each with its own HTTP session on the labelling service."""

    def __init__(self, url: str, measures: Measures, tokens: dict[str, str]):
        config = measures.config
        self.url, self.world, self.tokens = url, measures.wild_world, tokens
        self.people = AnnotatorConfig(count=config.annotators, seed=config.seed, rating_noise=config.rating_noise)

    def work(self, campaign_id: int) -> None:
        simulate_campaign(self.url, campaign_id, self.tokens, self.world, self.people)


def run_over_services(ports: Ports, measures: Measures, zoo: dict[str, nn.Module], labelling_url: str,
                      timeout_s: float = 1800.0, progress: bool = True,
                      say: Callable[[str], None] = print) -> RunRecord:
    """Seed the stack (the zoo served by the ports' release: TorchServe when configured), play every
    round through its services, measure; what the report needs."""
    clock, timings = time.perf_counter(), {}
    tokens = seed(ports, measures, zoo, progress=progress)
    timings["ingest"] = time.perf_counter() - clock
    records = play(ports, measures, OverServices(ports, timeout_s, progress, say),
                   PeopleOverHttp(labelling_url, measures, tokens), say)
    timings["rounds"] = time.perf_counter() - clock - timings["ingest"]
    run = measures.run(records, timings, baselines=measures.config.baselines)
    run.timings["baselines"] = time.perf_counter() - clock - sum(timings.values())
    return run


def overlap(a, b) -> float:
    """|A ∩ B| / max(|A|, |B|): 1 when the sets are equal (and when both are empty)."""
    a, b = set(a), set(b)
    return len(a & b) / max(len(a), len(b)) if a or b else 1.0


def _gap(a: float, b: float) -> float:
    """|a - b|; 0 when both are missing (NaN), infinite when only one is."""
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    return abs(a - b)


def compare(stack: RunRecord, embedded: RunRecord, tolerance: float = 0.02) -> dict:
    """Per round: overlaps of M, S and T and the largest model-metric difference; the report's
    conclusions of each run; whether all agree (overlaps ≥ 0.9, differences ≤ tolerance, same conclusions)."""

    rounds = []
    for s, e in zip(stack.rounds, embedded.rounds):
        gaps = [_gap(s_scores.get(m, math.nan), e_scores[m])
                for s_scores, e_scores in ((s.t0, e.t0), (s.t, e.t), (s.wild, e.wild)) for m in e_scores]
        rounds.append({"round": s.round, "m_overlap": overlap(s.candidates, e.candidates),
                       "s_overlap": overlap(s.counterexamples, e.counterexamples),
                       "t_overlap": overlap(s.test_set, e.test_set),
                       "max_metric_gap": max(gaps, default=0.0)})
    claims = {side: {c["claim"]: c["holds"] for c in conclusions(summarize(run))}
              for side, run in (("stack", stack), ("embedded", embedded))}
    differing = sorted(c for c in claims["embedded"] if claims["stack"].get(c) != claims["embedded"][c])
    agree = len(stack.rounds) == len(embedded.rounds) and not differing and all(
        min(r["m_overlap"], r["s_overlap"], r["t_overlap"]) >= 0.9 and r["max_metric_gap"] <= tolerance
        for r in rounds)
    return {"rounds": rounds, "conclusions": claims["stack"], "differing_conclusions": differing,
            "agree": bool(agree), "tolerance": tolerance, "min_overlap": 0.9}
