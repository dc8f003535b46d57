"""The inference worker's logic: a plain function of the events of one poll.

An ImageIngested is predicted by every competitor's default version and the target's default
version; a RoundEvent "mining" has the round's target version predict the whole pool. Work the
catalog already holds is skipped (and re-announced), so redelivery is harmless. While a slice is
predicted, the next one is read on a thread and the one before is stored and announced on another.
An image whose stored copy cannot be read is marked unusable in the catalog (it leaves every round's
pool) and the others are predicted all the same; its ImageIngested then fails, to be dead-lettered
with the reason. So is an image a model fails on while the others of its slice go through (a card's
model that cannot take its size, say); a model that fails on every image of a slice is broken, and
the poll fails.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait

from segmad import events
from segmad.ports.bus import IMAGES, ROUNDS, Message
from segmad.ports.segmenter import ModelRef
from segmad.pipeline.models import ensure_loaded
from segmad.ports import Ports
from segmad.pipeline import stages
from segmad.runtime.retries import is_transient, reason
from segmad.pipeline.mining import MINING

TOPICS = (IMAGES, ROUNDS)
log = logging.getLogger("segmad.inference")


def parse(message: Message) -> events.ImageIngested | events.RoundEvent:
    """The event a message carries; MalformedMessage for another topic or unusable bytes."""
    if message.topic == IMAGES:
        return events.from_bytes(events.ImageIngested, message.value)
    if message.topic == ROUNDS:
        return events.from_bytes(events.RoundEvent, message.value)
    raise events.MalformedMessage(f"the inference worker does not read topic {message.topic!r}")


class Overlap:
    """Runs one slice's storing (encode, blobs, rows, announcements) on a thread beside the next slice's
    prediction; at most one is pending, and `wait` returns once it is done (raising what it raised)."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="inference-store")
        self._pending: Future | None = None

    def __call__(self, work) -> None:
        self.wait()
        self._pending = self._pool.submit(work)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def even_slices(items: list, most: int) -> list[list]:
    """`items` cut into the fewest slices of at most `most`, as even as can be (100 by 64: 50 and 50, not
    64 and 36: the last slice's storing is what a poll cannot overlap)."""
    count = -(-len(items) // most)
    return [items[k * len(items) // count:(k + 1) * len(items) // count] for k in range(count)]


# Pixels of one slice's images at most: 64 Mpx is 192 MB of RGB (and their PNGs). Three slices are in
# flight, so a worker's images take well under its 4 GiB (deploy/k8s) whatever the photographs' size.
MAX_SLICE_PIXELS = 64 * 2**20


def cut(image_ids: list[str], pixels: dict[str, int], most: int, most_pixels: int) -> list[list[str]]:
    """`even_slices` of at most `most` images, each cut again where its images' pixels would pass
    `most_pixels` (an image larger than that gets a slice of its own). An id without a size counts 0."""
    parts = []
    for chunk in even_slices(image_ids, most):
        part, total = [], 0
        for image_id in chunk:
            size = pixels.get(image_id, 0)
            if part and total + size > most_pixels:
                parts.append(part)
                part, total = [], 0
            part.append(image_id)
            total += size
        parts.append(part)
    return parts


class InferenceHandler:
    """Predicts what the events of a poll call for; `__call__` handles one message (tests replay single deliveries)."""

    def __init__(self, ports: Ports, num_classes: int, batch_size: int = 64, max_slice_pixels: int = MAX_SLICE_PIXELS):
        self.ports, self.num_classes, self.batch_size = ports, num_classes, batch_size
        self.max_slice_pixels = max_slice_pixels
        self.predicted = 0
        self.overlap = Overlap()
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="inference-read")

    def __call__(self, message: Message) -> None:
        self.handle([parse(message)])

    def handle(self, batch: list) -> None:
        """Predict the images of a poll with every default model, and a started round's pool."""
        image_ids = sorted({e.image_id for e in batch if isinstance(e, events.ImageIngested)})
        unreadable = {}
        if image_ids:
            # The target's maps last. All of an image's rows are catalogued before its messages go out
            # (side by side: stages), so the discrepancy worker scores a pair at the first of its two
            # messages it sees; when a poll ends between an image's messages, the other map is fetched
            # from the store: with the competitors' first, only the target's (bench pipeline: 5 fetches
            # for 300 images; 101-126 when each model's messages went out together).
            defaults = sorted(self.ports.catalog.default_models(), key=lambda m: m.role == "target")
            models = [ModelRef(m.name, m.version) for m in defaults]
            unreadable = self._predict(models, image_ids)
        for event in batch:
            if isinstance(event, events.RoundEvent) and event.state == MINING:
                row = self.ports.catalog.round(event.round)
                if row is not None and row.state == MINING:
                    known_bad = self.ports.catalog.unusable_images()
                    pool = [i for i in self.ports.catalog.image_ids() if i not in known_bad]
                    self._predict([ModelRef(row.target, row.target_version)], pool)  # a bad image: marked, skipped
        self.overlap.wait()  # every slice stored and announced
        self.ports.bus.flush()  # announcements stored before the loop commits the poll
        if unreadable:  # the others are done; the loop dead-letters the bad image's event with the reason
            raise next(iter(unreadable.values()))

    def _predict(self, models: list[ModelRef], image_ids: list[str]) -> dict[str, Exception]:
        """Predict the images with the models; the images whose stored copy cannot be read, with why."""
        # All models at once per slice of images: each image is read once, and a remote segmenter
        # serves the models side by side. Three slices are in flight: the next one read (its images
        # fetched from the store, which also checks they are there), this one predicted, the one
        # before stored and announced; their sizes (from the catalog) bound each slice's pixels.
        classes = {model: ensure_loaded(self.ports, model, self.num_classes) for model in models}
        rows = self.ports.catalog.images_by_id(image_ids)  # their sizes here, their blob keys when read
        sizes = {i: image.width * image.height for i, image in rows.items()}
        chunks = cut(image_ids, sizes, self.batch_size, self.max_slice_pixels)
        unreadable: dict[str, Exception] = {}
        ahead = self._reader.submit(stages.prepare_slice, self.ports, classes, chunks[0], rows) if chunks else None
        try:
            for k, chunk in enumerate(chunks):
                ready, ahead = ahead, (self._reader.submit(stages.prepare_slice, self.ports, classes, chunks[k + 1], rows)
                                       if k + 1 < len(chunks) else None)
                try:
                    self.predicted += stages.predict_slice(self.ports, classes, ready.result(), self.overlap)
                except Exception as error:
                    if is_transient(error):
                        raise
                    self.overlap.wait()  # the slice before is stored before this one is examined
                    bad = self._unreadable(chunk)
                    rest = [i for i in chunk if i not in bad]
                    if not bad:
                        # Every image reads: a model fails on some of them (a card's model that cannot take
                        # an image's size, say). One image at a time finds which; a model that fails on
                        # every one is broken, not the images, and nothing is marked.
                        bad = self._failing(classes, rest)
                        if not bad:
                            raise
                        unreadable |= bad
                        continue
                    unreadable |= bad
                    if rest:
                        self.predicted += stages.predict_with_models(self.ports, classes, rest)
        finally:
            if ahead is not None:  # a poll that failed leaves no read running into the next try
                wait([ahead])
        return unreadable

    def _failing(self, classes: dict, image_ids: list[str]) -> dict[str, Exception]:
        """Predict the images one at a time; those a model fails on are marked unusable with the model's
        error (they leave every round's pool, as unreadable images do). Empty when every image fails."""
        failed: dict[str, Exception] = {}
        for image_id in image_ids:
            try:
                self.predicted += stages.predict_with_models(self.ports, classes, [image_id])
            except Exception as error:
                if is_transient(error):
                    raise
                failed[image_id] = error
        if len(failed) == len(image_ids):
            return {}
        for image_id, error in failed.items():
            self.ports.catalog.mark_unusable(image_id, f"a model failed on it: {reason(error)}")
            log.warning("image unusable", extra={"image_id": image_id, "error": reason(error)})
        return failed

    def _unreadable(self, image_ids: list[str]) -> dict[str, Exception]:
        """The images whose stored copy cannot be read, each marked unusable in the catalog."""
        bad = {}
        for image_id in image_ids:
            try:
                stages.load_images(self.ports, [image_id])
            except Exception as error:
                if is_transient(error):
                    raise
                self.ports.catalog.mark_unusable(image_id, reason(error))
                log.warning("image unusable", extra={"image_id": image_id, "error": reason(error)})
                bad[image_id] = error
        return bad
