"""The discrepancy worker's logic: a plain function of the PredictionReady events of one poll.

The heaps of the round being mined live in memory and in the catalog. They are loaded at the
first event (and again when the mining round changes or after a failure), and only heaps that
changed are merged back, all in one transaction per poll that writes only the rows that change.
Heaps ignore repeated pushes and their top-n3 does not depend on order, so redelivered or
reordered events leave the same heaps (and write nothing).

Each label map a poll needs is read once: an image's maps (the target's and its competitors')
are decoded once for all its pairs, taken from the copies messages carry where they do (small
maps, events.COPY_BYTES) and fetched together from the store otherwise. The copies of recent polls
are kept too (RECENT_COPY_BYTES, least recently used out first): an image's predictions often
arrive in two polls, and its second poll then needs the first one's maps (a stored map never
changes: its key names the model version and the image).

Members of the group (threads or processes, each on its own partitions) each hold a view of the
heaps: a save merges the view into the stored heap under a lock (top n3 of the union) and takes
the merged heap back, so no member overwrites another's images and later pushes see them.
"""

from __future__ import annotations

from collections import ChainMap, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

from segmad import events
from segmad.ports.bus import PREDICTIONS, Message
from segmad.ports.segmenter import ModelRef
from segmad.mad import CandidateHeaps, HeapKey
from segmad.ports import Ports
from segmad.pipeline import stages
from segmad.pipeline.mining import MINING, MiningRound, current_round, mining_round

TOPICS = (PREDICTIONS,)
RECENT_COPY_BYTES = 32 * 1024 * 1024  # label maps carried by recent polls' messages, kept for the next polls


def parse(message: Message) -> events.PredictionReady:
    """The PredictionReady a message carries; MalformedMessage otherwise."""
    if message.topic != PREDICTIONS:
        raise events.MalformedMessage(f"the discrepancy worker does not read topic {message.topic!r}")
    return events.from_bytes(events.PredictionReady, message.value)


@dataclass
class WriteStats:
    """What the worker did, for its metrics: events seen, pairs scored, label maps read, heaps merged
    into the catalog, and the transactions that merged them (at most one per poll)."""

    events: int = 0
    pairs: int = 0
    maps_read: int = 0
    heap_writes: int = 0
    saves: int = 0


class DiscrepancyHandler:
    """Scores the pairs that a poll's predictions complete and saves the heaps they changed."""

    def __init__(self, ports: Ports):
        self.ports = ports
        self.stats = WriteStats()
        self._round: MiningRound | None = None
        self._heaps: CandidateHeaps | None = None
        self._present: set[tuple[ModelRef, str]] = set()  # (model, image) predicted, for the poll at hand
        self._copies: Mapping[str, bytes] = {}  # label maps the poll's messages and recent polls' carried, by blob key
        self._recent: OrderedDict[str, bytes] = OrderedDict()  # recent polls' copies, least recently carried first
        self._recent_bytes = 0

    def __call__(self, message: Message) -> None:
        self.handle([parse(message)])

    def handle(self, batch: list[events.PredictionReady]) -> None:
        """Push every completed pair of the poll, then save the changed heaps."""
        try:
            self._handle(batch)
        except BaseException:
            # Memory may now be ahead of the catalog; a redelivery would then change nothing and
            # save nothing, so start again from what the catalog holds.
            self._round = self._heaps = None
            raise

    def _handle(self, batch: list[events.PredictionReady]) -> None:
        self.stats.events += len(batch)
        row = self.ports.catalog.round(self._round.round) if self._round else None
        if row is None or row.state != MINING:
            row = current_round(self.ports.catalog)
            if row is None:
                self._round = self._heaps = None
                return  # nothing is being mined; round start re-announces the target's maps
            self._load(mining_round(self.ports.catalog, row))
        self._present = self._predicted({event.image_id for event in batch})
        self._keep_copies(batch)
        # A pair both of whose maps arrive in one poll is scored once, not once per map; an image's
        # pairs are scored together, so its target map is read once.
        pairs = sorted({(image_id, competitor) for event in batch for competitor, image_id in self._pairs(event)})
        changed: set[HeapKey] = set()
        for image_id, group in groupby(pairs, key=itemgetter(0)):
            changed.update(self._push_image(image_id, [competitor for _, competitor in group]))
        self.stats.pairs += len(pairs)
        self._save(changed)

    def _push_image(self, image_id: str, competitors: list[ModelRef]) -> list[HeapKey]:
        """Offer one image's (target, competitor) pairs to the heaps; its maps fetched together, each decoded once."""
        self.stats.maps_read += 1 + len(competitors)
        return stages.push_image(self.ports, self._heaps, self._round.target, competitors, image_id, self._copies)

    def _keep_copies(self, batch: list[events.PredictionReady]) -> None:
        """The poll's carried maps, then the recent ones, for this poll; the poll's kept for the next polls,
        the least recently carried dropped past RECENT_COPY_BYTES."""
        carried = {event.blob_key: event.label_map for event in batch if event.label_map}
        self._copies = ChainMap(carried, self._recent)
        for key, label_map in carried.items():
            if key in self._recent:
                self._recent.move_to_end(key)
                continue
            self._recent[key] = label_map
            self._recent_bytes += len(label_map)
        while self._recent_bytes > RECENT_COPY_BYTES:
            _, dropped = self._recent.popitem(last=False)
            self._recent_bytes -= len(dropped)

    def _load(self, mining: MiningRound) -> None:
        self._round = mining
        self._heaps = CandidateHeaps.from_records(self.ports.catalog.load_heaps(mining.round), mining.n3, mining.bounds)

    def _pairs(self, event: events.PredictionReady) -> list[tuple[ModelRef, str]]:
        """(competitor, image) pairs whose both maps exist now that this prediction does."""
        mining, image_id = self._round, event.image_id
        if image_id in mining.excluded:
            return []
        model = ModelRef(event.model, event.version)
        if model == mining.target:
            return [(c, image_id) for c in mining.competitors if self._has(c, image_id)]
        if model in mining.competitors and self._has(mining.target, image_id):
            return [(model, image_id)]
        return []

    def _predicted(self, image_ids: set[str]) -> set[tuple[ModelRef, str]]:
        """(model, image) of the mining round's models that have predicted these images: one query per model."""
        models = [self._round.target, *self._round.competitors]
        catalog = self.ports.catalog
        return {(m, p.image_id) for m in models for p in catalog.predictions_for(image_ids, m.name, m.version)}

    def _has(self, model: ModelRef, image_id: str) -> bool:
        return (model, image_id) in self._present

    def _save(self, changed: set[HeapKey]) -> None:
        """Merge the heaps this poll changed into the catalog in one transaction, and take back what others stored."""
        if not changed:
            return
        heaps = dict(self._heaps.items())
        merged = self.ports.catalog.merge_heaps(self._round.round, {key: heaps[key] for key in changed}, self._round.n3)
        for key, members in merged.items():
            for member in members:  # the images other members stored; the heap keeps its top n3
                self._heaps.add_member(key, member)
        self.stats.heap_writes += len(changed)
        self.stats.saves += 1
