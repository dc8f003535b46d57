"""The pure MAD core: discrepancy, size bounds, candidate heaps, weak labels, test sets, evaluation.

numpy only; no I/O and no adapter imports (DESIGN §3).
"""

from segmad.mad.baselines import mean_entropy, select_by_entropy, select_random
from segmad.mad.bounds import SizeBounds, size_bounds
from segmad.mad.distance import IGNORE, class_fractions, discrepancy, label_counts
from segmad.mad.evaluate import ConfusionMatrix, dataset_miou, spearman
from segmad.mad.heaps import PARTITIONS, CandidateHeaps, HeapKey, Member, merge_members
from segmad.mad.testset import main_class, select_test_set
from segmad.mad.weak import ACR_SCALE, OUT_OF_DOMAIN, check_rating, lowest_scores, mean_opinion_scores, out_of_domain

__all__ = [
    "ACR_SCALE", "IGNORE", "OUT_OF_DOMAIN", "PARTITIONS",
    "CandidateHeaps", "ConfusionMatrix", "HeapKey", "Member", "SizeBounds",
    "check_rating", "class_fractions", "dataset_miou", "discrepancy", "label_counts",
    "lowest_scores", "main_class", "mean_entropy", "mean_opinion_scores", "merge_members", "out_of_domain",
    "select_by_entropy", "select_random", "select_test_set", "size_bounds", "spearman",
]
