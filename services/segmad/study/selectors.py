"""Every selector of the study as a pure function of one world seed's shared predictions and truth.

A selector returns the images it would have labelled densely at a budget n4 (S), its whole ranking
(precision@k reads its prefix) and the human work it asked for. MAD's parts are the core's
(`segmad.mad`: heaps, MOS with the veto, lowest scores, entropy and random baselines); weak ratings
come from the demo's simulated people (`SimulatedAnnotators.rate`), so a rating here is the rating
the labelling service would have recorded for the same image and annotator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from segmad.mad import CandidateHeaps, lowest_scores, mean_opinion_scores, select_by_entropy, select_random
from segmad.study.grid import StudyConfig
from segmad.study.shared import Shared
from segmad.world.annotators import AnnotatorConfig, SimulatedAnnotators

SECONDS_PER_RATING = 7.0   # the paper's accounting (§4.2.3): a weak rating
SECONDS_PER_MASK = 135.0   # ...and a dense mask
ADAPTIVE_MARGIN = 1.0      # a further rating where the MOS is within one rating step of the n4-th lowest
ADAPTIVE_SPREAD = 2        # ...or where the raters so far disagree by two steps or more
# mad-dedup: two images whose target class fractions and distances to every competitor all differ by
# less than this look alike to mining (near-duplicate frames of one scene); S keeps the first.
DUPLICATE_TOLERANCE = 0.02


@dataclass(frozen=True)
class Selection:
    """What a selector picked at one budget, and the work it cost."""

    chosen: list[int]    # indices into D of S, the images labelled densely
    ranking: list[int]   # indices into D, most likely failure first
    ratings: int = 0     # weak ratings asked
    candidates: int = 0  # |M|, when the selector mines one

    @property
    def hours(self) -> float:
        """Human hours by the paper's accounting: 7 s per rating, 135 s per mask."""
        return (self.ratings * SECONDS_PER_RATING + len(self.chosen) * SECONDS_PER_MASK) / 3600


class Context:
    """One world seed's shared predictions, mined once at the largest n3 the grid needs, and its raters."""

    def __init__(self, shared: Shared, config: StudyConfig):
        self.shared, self.config = shared, config
        self.index = {x: i for i, x in enumerate(shared.ids)}
        budgets = list(config.budgets) + [config.ablation_budget]
        self.heaps = CandidateHeaps(max(config.n3_for(b) for b in budgets), shared.bounds)
        for j, name in enumerate(shared.competitors):
            for i, image_id in enumerate(shared.ids):  # D's order, as the pipeline scans it
                self.heaps.push_pair(name, image_id, shared.distances[j, i], shared.target_fractions[i],
                                     shared.competitor_fractions[j, i])
        self.people = SimulatedAnnotators(AnnotatorConfig(config.annotators, shared.seed, config.rating_noise))
        self.mean_distance = shared.distances.mean(axis=0) if len(shared.competitors) else np.zeros(len(shared.ids))

    def candidates(self, n3: int, competitors: Sequence[str] | None = None) -> list[int]:
        """M at heap size n3: each heap's first n3 members are exactly the top-n3 heap (same order, same ties)."""
        keep = set(self.shared.competitors if competitors is None else competitors)
        chosen = {m.image_id for key, members in self.heaps.items() if key.competitor in keep for m in members[:n3]}
        return sorted(self.index[x] for x in chosen)

    def votes(self, i: int, annotators: range) -> list[float]:
        """The named annotators' ratings of the v0 target's map of image i."""
        s = self.shared
        return [self.people.rate(a, s.ids[i], float(s.true_miou[i]), bool(s.in_domain[i]))[0] for a in annotators]


def mad(ctx: Context, n4: int, competitors: Sequence[str] | None = None) -> Selection:
    """The paper's: M from the heaps, every annotator rates M, S = the n4 lowest MOS (a veto excludes)."""
    m = ctx.candidates(ctx.config.n3_for(n4), competitors)
    everyone = range(ctx.config.annotators)
    mos = mean_opinion_scores({ctx.shared.ids[i]: ctx.votes(i, everyone) for i in m})
    return _by_scores(ctx, mos, n4, ratings=len(m) * ctx.config.annotators, candidates=len(m))


def mad_1(ctx: Context, n4: int) -> Selection:
    """MAD with one competitor (the zoo's first, DeepLabV3): what more competitors add."""
    return mad(ctx, n4, ctx.shared.competitors[:1])


def mad_no_ratings(ctx: Context, n4: int) -> Selection:
    """The n4 of M with the largest mean distance to the competitors: what the ratings add."""
    m = ctx.candidates(ctx.config.n3_for(n4))
    ranking = sorted(m, key=lambda i: (-ctx.mean_distance[i], ctx.shared.ids[i]))
    return Selection(ranking[:n4], ranking, candidates=len(m))


def mad_no_subgroups(ctx: Context, n4: int) -> Selection:
    """The n4 of D with the largest mean distance, no class or size bands and no ratings: what the subgroups add."""
    ranking = sorted(range(len(ctx.shared.ids)), key=lambda i: (-ctx.mean_distance[i], ctx.shared.ids[i]))
    return Selection(ranking[:n4], ranking)


def mad_adaptive(ctx: Context, n4: int) -> Selection:
    """MAD with adaptive rating: one rating per image of M, a further one only where it could change S.

    After each pass, an image is rated again (up to the panel's size) when its MOS lies within
    ADAPTIVE_MARGIN of the n4-th lowest or its ratings so far spread by ADAPTIVE_SPREAD or more. A
    vetoed image is never asked again: under the paper's rule one veto is final.
    """
    s = ctx.shared
    m = ctx.candidates(ctx.config.n3_for(n4))
    votes = {s.ids[i]: ctx.votes(i, range(1)) for i in m}
    for annotator in range(1, ctx.config.annotators):
        mos = mean_opinion_scores(votes)
        finite = sorted(v for v in mos.values() if math.isfinite(v))
        if len(finite) <= n4:
            break  # every rated image is in S whatever the next ratings say
        cut = finite[n4 - 1]
        again = [x for x, v in mos.items() if math.isfinite(v) and len(votes[x]) == annotator
                 and (abs(v - cut) <= ADAPTIVE_MARGIN or max(votes[x]) - min(votes[x]) >= ADAPTIVE_SPREAD)]
        for x in again:
            votes[x] += ctx.votes(ctx.index[x], range(annotator, annotator + 1))
    return _by_scores(ctx, mean_opinion_scores(votes), n4, ratings=sum(map(len, votes.values())), candidates=len(m))


def mad_spread(ctx: Context, n4: int) -> Selection:
    """MAD with S spread over the kinds of failure: the (competitor, class) subgroups of M take turns, each
    giving its lowest-MOS image not yet chosen (subgroups with lower best MOS first), until n4.

    An improvement the paper leaves open: its S is the n4 lowest MOS of M, which one frequent kind of
    failure can fill. A vetoed image (MOS inf) is never chosen; the ratings are MAD's.
    """
    m = ctx.candidates(ctx.config.n3_for(n4))
    everyone = range(ctx.config.annotators)
    mos = mean_opinion_scores({ctx.shared.ids[i]: ctx.votes(i, everyone) for i in m})
    order = [ctx.index[x] for x in lowest_scores(mos, len(mos))]  # finite MOS, lowest first (ties by id)
    rank = {i: r for r, i in enumerate(order)}
    n3 = ctx.config.n3_for(n4)
    kinds: dict[tuple[str, int], set[int]] = {}  # (competitor, class): both partitions' heaps, one kind of failure
    for key, members in ctx.heaps.items():
        kinds.setdefault((key.competitor, key.class_id), set()).update(
            ctx.index[member.image_id] for member in members[:n3] if ctx.index[member.image_id] in rank)
    queues = sorted((sorted(q, key=rank.__getitem__) for q in kinds.values() if q), key=lambda q: rank[q[0]])
    chosen, taken = [], set()
    while len(chosen) < n4 and any(queues):
        for queue in queues:
            while queue and queue[0] in taken:
                queue.pop(0)
            if queue and len(chosen) < n4:
                taken.add(queue[0])
                chosen.append(queue.pop(0))
    ranking = chosen + [i for i in order if i not in taken]
    return Selection(chosen, ranking, ratings=len(m) * ctx.config.annotators, candidates=len(m))


def mad_dedup(ctx: Context, n4: int) -> Selection:
    """MAD with near-duplicates dropped from S: going up the MOS ranking, an image is skipped when its
    target class fractions and its distance to every competitor are all within DUPLICATE_TOLERANCE of an
    image already chosen (what mining sees of two frames of one scene). Skipped images rank after S."""
    m = ctx.candidates(ctx.config.n3_for(n4))
    everyone = range(ctx.config.annotators)
    mos = mean_opinion_scores({ctx.shared.ids[i]: ctx.votes(i, everyone) for i in m})
    order = [ctx.index[x] for x in lowest_scores(mos, len(mos))]
    s = ctx.shared
    signature = np.concatenate([s.target_fractions, s.distances.T], axis=1)  # (N, C+1+m)
    chosen: list[int] = []
    for i in order:
        if len(chosen) == n4:
            break
        if chosen and (np.abs(signature[chosen] - signature[i]).max(axis=1) < DUPLICATE_TOLERANCE).any():
            continue
        chosen.append(i)
    taken = set(chosen)
    return Selection(chosen, chosen + [i for i in order if i not in taken],
                     ratings=len(m) * ctx.config.annotators, candidates=len(m))


def entropy(ctx: Context, n4: int) -> Selection:
    """The n4 images of D where the v0 target's mean pixel entropy is highest (Joshi et al.)."""
    scores = dict(zip(ctx.shared.ids, ctx.shared.entropy.tolist()))
    ranking = [ctx.index[x] for x in select_by_entropy(scores, len(scores))]
    return Selection(ranking[:n4], ranking)


def random(ctx: Context, n4: int) -> Selection:
    """n4 images of D uniformly at random (the core's draw, seeded by the world seed)."""
    chosen = [ctx.index[x] for x in select_random(ctx.shared.ids, n4, seed=ctx.shared.seed)]
    ranking = np.random.default_rng([ctx.shared.seed, 1]).permutation(len(ctx.shared.ids)).tolist()
    return Selection(chosen, ranking)


def worst(ctx: Context, n4: int) -> Selection:
    """The n4 in-domain images of D with the lowest true target mIoU: the limit of failure finding."""
    ranking = _truth_order(ctx, range(len(ctx.shared.ids)))
    return Selection(ranking[:n4], ranking)


def worst_in_m(ctx: Context, n4: int) -> Selection:
    """Perfect ratings over M: its n4 in-domain images of lowest true mIoU (counted as M's three ratings each)."""
    m = ctx.candidates(ctx.config.n3_for(n4))
    ranking = _truth_order(ctx, m)
    return Selection(ranking[:n4], ranking, ratings=len(m) * ctx.config.annotators, candidates=len(m))


def ceiling_failures(ctx: Context, n4: int = 0) -> Selection:
    """Every true failure of D, with true masks (n4 is ignored)."""
    ranking = _truth_order(ctx, range(len(ctx.shared.ids)))
    failures = ctx.shared.failures(ctx.config.failure_threshold)
    return Selection([i for i in ranking if failures[i]], ranking)


def ceiling_pool(ctx: Context, n4: int = 0) -> Selection:
    """All of D, with true masks (n4 is ignored): what labelling everything would give."""
    everything = list(range(len(ctx.shared.ids)))
    return Selection(everything, _truth_order(ctx, everything))


SELECT: dict[str, Callable[[Context, int], Selection]] = {
    "mad": mad, "mad-no-ratings": mad_no_ratings, "mad-no-subgroups": mad_no_subgroups, "mad-1": mad_1,
    "mad-adaptive": mad_adaptive, "mad-spread": mad_spread, "mad-dedup": mad_dedup, "entropy": entropy, "random": random, "worst": worst, "worst-in-M": worst_in_m,
    "ceiling-failures": ceiling_failures, "ceiling-pool": ceiling_pool,
}


def precision_at_k(ranking: Sequence[int], failures: np.ndarray) -> np.ndarray:
    """Share of true failures among the first k of the ranking, for k = 1..len(ranking)."""
    hits = failures[np.asarray(ranking, dtype=np.int64)].astype(np.float64)
    return np.cumsum(hits) / np.arange(1, len(hits) + 1)


def _by_scores(ctx: Context, mos: dict[str, float], n4: int, ratings: int, candidates: int) -> Selection:
    ranking = [ctx.index[x] for x in lowest_scores(mos, len(mos))]
    return Selection(ranking[:n4], ranking, ratings, candidates)


def _truth_order(ctx: Context, indices) -> list[int]:
    """In-domain images by true target mIoU, lowest first (ties by id); out-of-domain ones never."""
    s = ctx.shared
    return sorted((i for i in indices if s.in_domain[i]), key=lambda i: (s.true_miou[i], s.ids[i]))
