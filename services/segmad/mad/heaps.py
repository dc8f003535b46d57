"""Streaming top-n3 heaps per (competitor, class, partition) and the candidate set M.

An image enters the heap of (j, k, m) when the partitioning map of model m puts it in subgroup
D_{m,k}; each heap keeps the n3 images with the largest d(f_t(x), g_j(x)), ties broken by image
id ascending. Heaps built from disjoint streams merge into exactly the heaps of the union, and a
repeated push of the same image is a no-op, so partitioned, at-least-once workers agree.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from segmad.mad.bounds import SizeBounds

PARTITIONS = ("target", "competitor")


class HeapKey(NamedTuple):
    competitor: str
    class_id: int
    partition: str  # "target" or "competitor": whose map put the image in the subgroup


@dataclass(frozen=True)
class Member:
    image_id: str
    distance: float

    def ranks_below(self, other: "Member") -> bool:
        """True when this member is the worse of the two (smaller d, or equal d and larger id)."""
        return (self.distance, other.image_id) < (other.distance, self.image_id)


def best_first(member: Member) -> tuple:
    """Sort key putting the better member first: largest distance, then smallest id."""
    return (-member.distance, member.image_id)


def merge_members(n: int, *views: Iterable[Member]) -> list[Member]:
    """Top n, best first, of the union of several views of one heap: the heap one stream would hold.

    An image appears once; should two views give it different distances, the better-ranked one wins,
    so the result does not depend on the order of the views.
    """
    best: dict[str, Member] = {}
    for view in views:
        for member in view:
            kept = best.get(member.image_id)
            if kept is None or kept.ranks_below(member):
                best[member.image_id] = member
    return sorted(best.values(), key=best_first)[: max(n, 0)]


@dataclass(order=False)
class _Slot:
    """Heap entry whose ordering puts the worst member on top of a min-heap."""

    member: Member

    def __lt__(self, other: "_Slot") -> bool:
        return self.member.ranks_below(other.member)


@dataclass
class TopN:
    """The n best members seen so far, pushed one at a time."""

    n: int
    _slots: list[_Slot] = field(default_factory=list)
    _ids: set[str] = field(default_factory=set)

    def push(self, member: Member) -> bool:
        """Offer a member; True if the heap changed."""
        if member.image_id in self._ids or self.n <= 0:
            return False
        if len(self._slots) < self.n:
            heapq.heappush(self._slots, _Slot(member))
        elif self._slots[0].member.ranks_below(member):
            evicted = heapq.heapreplace(self._slots, _Slot(member)).member
            self._ids.discard(evicted.image_id)
        else:
            return False
        self._ids.add(member.image_id)
        return True

    def members(self) -> list[Member]:
        """Members best first: largest distance, then smallest id."""
        return sorted((s.member for s in self._slots), key=best_first)

    def __len__(self) -> int:
        return len(self._slots)


class CandidateHeaps:
    """All heaps of one mining round; M is the de-duplicated union of their members."""

    def __init__(self, n3: int, bounds: SizeBounds):
        if n3 < 1:
            raise ValueError("n3 must be at least 1")
        self.n3 = n3
        self.bounds = bounds
        self._heaps: dict[HeapKey, TopN] = {}

    def push(self, competitor: str, partition: str, image_id: str, distance: float, fractions: np.ndarray) -> list[HeapKey]:
        """Offer one image to the heaps of `competitor` partitioned by `partition`'s map; returns changed keys."""
        if partition not in PARTITIONS:
            raise ValueError(f"partition must be one of {PARTITIONS}, got {partition!r}")
        return self._offer(competitor, partition, self.bounds.subgroups(fractions).tolist(), Member(image_id, float(distance)))

    def push_pair(
        self,
        competitor: str,
        image_id: str,
        distance: float,
        target_fractions: np.ndarray,
        competitor_fractions: np.ndarray,
    ) -> list[HeapKey]:
        """Offer one (target, competitor) pair to both partitions; returns changed keys."""
        return self.push_image(image_id, target_fractions, [(competitor, distance, competitor_fractions)])

    def push_image(
        self, image_id: str, target_fractions: np.ndarray, scores: Sequence[tuple[str, float, np.ndarray]]
    ) -> list[HeapKey]:
        """Offer one image scored against several competitors: `push_pair` for each (competitor,
        distance, competitor fractions), the subgroups of all its maps found in one pass."""
        if not scores:
            return []
        classes = self.bounds.subgroups_of_rows(np.stack([target_fractions, *(s[2] for s in scores)]))
        changed = []
        for (competitor, distance, _), competitor_classes in zip(scores, classes[1:]):
            member = Member(image_id, float(distance))
            changed += self._offer(competitor, "target", classes[0], member)
            changed += self._offer(competitor, "competitor", competitor_classes, member)
        return changed

    def _offer(self, competitor: str, partition: str, classes: Iterable[int], member: Member) -> list[HeapKey]:
        """Push a member into the heaps of (competitor, k, partition) for each class k; the changed keys."""
        changed = []
        for k in classes:
            key = HeapKey(competitor, k, partition)
            if self._heaps.setdefault(key, TopN(self.n3)).push(member):
                changed.append(key)
        return changed

    def add_member(self, key: HeapKey, member: Member) -> bool:
        """Put a member straight into one heap (for merging and reloading stored heaps)."""
        return self._heaps.setdefault(HeapKey(*key), TopN(self.n3)).push(member)

    def merge(self, other: "CandidateHeaps") -> None:
        """Fold another heap set (built from a disjoint stream) into this one."""
        if other.n3 != self.n3:
            raise ValueError("cannot merge heaps of different n3")
        for key, members in other.items():
            for member in members:
                self.add_member(key, member)

    def items(self) -> Iterator[tuple[HeapKey, list[Member]]]:
        """(key, members best first) for every non-empty heap, keys in sorted order."""
        for key in sorted(self._heaps, key=_key_order):
            members = self._heaps[key].members()
            if members:
                yield key, members

    def candidates(self) -> list[str]:
        """M: every image in any heap, once, sorted by id."""
        return sorted({m.image_id for _, members in self.items() for m in members})

    def to_records(self) -> list[dict]:
        """The heaps as JSON-able records (the `heaps` list of `segmad select`'s output)."""
        return [
            {
                "competitor": key.competitor,
                "class": key.class_id,
                "partition_by": key.partition,
                "members": [{"image": m.image_id, "distance": m.distance} for m in members],
            }
            for key, members in self.items()
        ]

    @classmethod
    def from_records(cls, records: Iterable[dict], n3: int, bounds: SizeBounds) -> "CandidateHeaps":
        """Inverse of `to_records`."""
        heaps = cls(n3, bounds)
        for record in records:
            key = HeapKey(record["competitor"], int(record["class"]), record["partition_by"])
            for m in record["members"]:
                heaps.add_member(key, Member(m["image"], float(m["distance"])))
        return heaps


def _key_order(key: HeapKey) -> tuple:
    return (key.competitor, key.class_id, PARTITIONS.index(key.partition))
