"""The stages of a round as functions of the ports: what the workers and the embedded demo call.

Each stage is idempotent: it skips work whose result the catalog already holds, so a stage
interrupted at any point and run again ends where an uninterrupted run would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from segmad import events
from segmad.ports.bus import PREDICTIONS
from segmad.ports.segmenter import Encoded, ModelRef
from segmad.catalog.records import Image, Prediction
from segmad.codec import decode_png, encode_png
from segmad.mad import CandidateHeaps, SizeBounds, class_fractions, label_counts
from segmad.mad.distance import discrepancy_and_counts
from segmad.ports import Ports
from segmad.pipeline.keys import prediction_key


def _batches(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_images(ports: Ports, image_ids: Sequence[str]) -> list[np.ndarray]:
    """The stored RGB images (H, W, 3), each at its own size; LookupError for an id the catalog lacks."""
    return [image.pixels for image in read_stored(ports, image_ids)]


def read_stored(ports: Ports, image_ids: Sequence[str], rows: Mapping[str, Image] | None = None) -> list[Encoded]:
    """The stored images, each decoded (which checks it is an image) and with the PNG bytes it came from;
    `rows`: their catalog rows when the caller has them already (else looked up)."""
    images = rows if rows is not None else ports.catalog.images_by_id(image_ids)
    if missing := [i for i in image_ids if i not in images]:
        raise LookupError(f"images not in the catalog: {', '.join(missing[:5])}")
    return [Encoded(decode_png(data), data) for data in ports.blobs.get_many([images[i].blob_key for i in image_ids])]


def load_images(ports: Ports, image_ids: Sequence[str]) -> np.ndarray:
    """The stored RGB images stacked (N, H, W, 3), for images of one size (the synthetic world's)."""
    images = read_images(ports, image_ids)
    if len({image.shape for image in images}) > 1:
        raise ValueError("the images differ in size; read them with read_images")
    return np.stack(images)


def load_prediction(ports: Ports, model: ModelRef, image_id: str) -> np.ndarray:
    """A model version's stored label map of one image."""
    return decode_png(ports.blobs.get(prediction_key(model.name, model.version, image_id)))


def predict(ports: Ports, model: ModelRef, image_ids: Sequence[str], num_classes: int,
            batch_size: int = 256, progress: bool = False) -> int:
    """Predict every image a model version has not seen yet; store maps, fractions, entropy; announce."""
    done = {p.image_id for p in ports.catalog.predictions_for_model_version(model.name, model.version)}
    todo = [i for i in image_ids if i not in done]
    bar = tqdm(total=len(todo), desc=f"predict {model.name}@{model.version}", unit="img",
               disable=not progress, leave=False)
    for batch in _batches(todo, batch_size):
        ready = Slice({model: list(batch)}, dict(zip(batch, read_images(ports, batch))))
        predict_slice(ports, {model: num_classes}, ready)
        bar.update(len(batch))
    bar.close()
    return len(todo)


def predict_images(ports: Ports, model: ModelRef, image_ids: Sequence[str], num_classes: int) -> int:
    """Predict the given images a model version lacks; re-announce the ones it has; how many were new."""
    return predict_with_models(ports, {model: num_classes}, image_ids)


def predict_with_models(ports: Ports, models: Mapping[ModelRef, int], image_ids: Sequence[str],
                        store: Callable[[Callable[[], int]], None] | None = None) -> int:
    """Predict the given images with each model version (mapped to its C) that lacks them; re-announce
    the ones it has; how many predictions were new.

    Looking the ids up (rather than listing the models' predictions) keeps a worker's poll cheap
    on a large pool. Re-announcing covers a worker killed between its catalog commit and its
    publish: consumers of PredictionReady are idempotent, a lost announcement is not recoverable.
    `store`, when given, is handed the storing of the maps (encode, blobs, rows, announcements) to
    run later (the inference worker runs it beside the next slice's prediction).
    """
    return predict_slice(ports, models, prepare_slice(ports, models, image_ids), store)


@dataclass(frozen=True)
class Slice:
    """Images made ready for predict_slice: each model's ids still to predict, and those images read."""

    todo: dict[ModelRef, list[str]]
    images: dict[str, np.ndarray | Encoded]


def prepare_slice(ports: Ports, models: Mapping[ModelRef, int], image_ids: Sequence[str],
                  rows: Mapping[str, Image] | None = None) -> Slice:
    """The first half of predict_with_models: what each model lacks (what it has is re-announced), and
    the images it needs, each read once for all (LookupError or the store's error for one that cannot
    be; `rows` as for read_stored). The inference worker prepares the next slice while the current one
    is predicted."""
    todo = {}
    for model in models:
        known = ports.catalog.predictions_for(image_ids, model.name, model.version)
        announce(ports, known)
        have = {p.image_id for p in known}
        if missing := [i for i in image_ids if i not in have]:
            todo[model] = missing
    needed = sorted({i for ids in todo.values() for i in ids})
    # Any sizes: each map comes back at its image's. A remote segmenter gets the stored PNGs as they are;
    # an in-process one needs only the pixels (a slice of 64 photographs' PNGs is some 30 MB).
    stored = read_stored(ports, needed, rows)
    return Slice(todo, dict(zip(needed, [s.pixels for s in stored] if ports.segmenter.in_process else stored)))


def predict_slice(ports: Ports, models: Mapping[ModelRef, int], ready: Slice,
                  store: Callable[[Callable[[], int]], None] | None = None) -> int:
    """The second half of predict_with_models: predict a prepared slice, then store and announce the
    maps (now, or handed to `store`); how many predictions were new."""
    if not ready.todo:
        return 0
    todo, images = ready.todo, ready.images
    answers = ports.segmenter.predict_many([(model, [images[i] for i in ids]) for model, ids in todo.items()])
    if store is None:
        return _store_answers(ports, models, todo, answers)
    store(lambda: _store_answers(ports, models, todo, answers))
    return sum(len(ids) for ids in todo.values())


def _store_answers(ports: Ports, models: Mapping[ModelRef, int], todo: Mapping[ModelRef, list[str]],
                   answers: list) -> int:
    """Encode the maps, store them, then their catalog rows (one statement), then announce them."""
    blobs, rows = [], []
    for (model, ids), (labels, entropy) in zip(todo.items(), answers):
        for image_id, label_map, h in zip(ids, labels, entropy):
            key = prediction_key(model.name, model.version, image_id)
            blobs.append((key, encode_png(label_map)))
            rows.append(Prediction(image_id, model.name, model.version, key,
                                   class_fractions(label_map, models[model]).tolist(), float(h)))
    ports.blobs.put_many(blobs, "image/png")
    ports.catalog.add_predictions(rows)
    # Announced image by image, in the models' order: an image's messages sit side by side in its
    # partition, so one poll of the discrepancy worker mostly sees all of them and scores its pairs
    # from the maps they carry (a poll that ends between them costs a fetch of the other map).
    rank = {(model.name, model.version): k for k, model in enumerate(todo)}
    place = {image_id: k for k, image_id in enumerate(dict.fromkeys(row.image_id for row in rows))}
    by_image = sorted(rows, key=lambda row: (place[row.image_id], rank[row.model, row.version]))
    announce(ports, by_image, dict(blobs))  # the discrepancy worker reads the maps from the messages
    return len(rows)


def announce(ports: Ports, predictions: Iterable[Prediction], maps: Mapping[str, bytes] | None = None) -> None:
    """Publish PredictionReady for catalogued predictions; `maps` (stored PNGs by blob key) are sent
    along where small enough (events.copy_of)."""
    maps = maps or {}
    for row in predictions:
        ports.bus.publish(PREDICTIONS, row.image_id, events.to_bytes(events.PredictionReady(
            row.image_id, row.model, row.version, row.blob_key, list(row.fractions),
            events.copy_of(maps.get(row.blob_key, b"")))))


def push_image(ports: Ports, heaps: CandidateHeaps, target: ModelRef, competitors: Sequence[ModelRef],
               image_id: str, copies: Mapping[str, bytes] | None = None) -> list:
    """Offer one image's (target, competitor) pairs to the heaps from stored maps; returns changed keys.

    The maps are fetched together and each decoded once (the target's serves every competitor);
    `copies` (PNGs by blob key, those the PredictionReady messages carry) need no fetch.
    """
    C = heaps.bounds.num_classes
    copies = copies or {}
    keys = [prediction_key(m.name, m.version, image_id) for m in [target, *competitors]]
    fetch = [key for key in keys if key not in copies]
    fetched = dict(zip(fetch, ports.blobs.get_many(fetch))) if fetch else {}
    t_map, *c_maps = (decode_png(copies[key] if key in copies else fetched[key]) for key in keys)
    t_counts = label_counts(t_map)
    t_fractions = t_counts[: C + 1] / t_map.size
    scores = []
    for competitor, c_map in zip(competitors, c_maps):
        if c_map.shape != t_map.shape:
            raise ValueError(f"{competitor.name}'s map of {image_id} is {c_map.shape}, the target's {t_map.shape}")
        d, c_counts = discrepancy_and_counts(t_map, c_map, t_counts)  # reads the competitor where it differs
        scores.append((competitor.name, d, c_counts[: C + 1] / c_map.size))
    return heaps.push_image(image_id, t_fractions, scores)


def score_pool(ports: Ports, target: ModelRef, competitors: Sequence[ModelRef], image_ids: Sequence[str],
               bounds: SizeBounds, n3: int, progress: bool = False, desc: str = "mine") -> CandidateHeaps:
    """The heaps of a pool from stored label maps (what the discrepancy workers build, in one pass)."""
    heaps = CandidateHeaps(n3, bounds)
    for image_id in tqdm(image_ids, desc=desc, unit="img", disable=not progress, leave=False):
        push_image(ports, heaps, target, competitors, image_id)
    return heaps


def mine(ports: Ports, round_: int, target: ModelRef, competitors: Sequence[ModelRef], image_ids: Sequence[str],
         bounds: SizeBounds, n3: int, progress: bool = False) -> CandidateHeaps:
    """Build the round's heaps over the pool from stored label maps and save them in the catalog."""
    heaps = score_pool(ports, target, competitors, image_ids, bounds, n3, progress, f"mine round {round_}")
    for key, members in heaps.items():
        ports.catalog.save_heap(round_, key, members)
    ports.catalog.set_round_images(round_, "candidates", heaps.candidates())
    return heaps
