"""What an export of a round holds: its images, sets, accepted masks, every model's maps, provenance."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from segmad.cards.labels import default_class_names
from segmad.codec import decode_png
from segmad.errors import InputError
from segmad.labelling.exchange import accepted_masks
from segmad.labelling.palette import decode_label_map
from segmad.pipeline.keys import label_key


@dataclass
class RoundSet:
    """A round read from the catalog and blob store; maps and images are loaded on demand."""

    ports: object
    round: int
    class_names: list[str]  # classes 1..C
    target: tuple[str, str]  # (name, version)
    competitors: list[tuple[str, str]]
    candidates: list[str]  # M
    counterexamples: list[str]  # S
    test_set: list[str]  # T
    file_stems: dict[str, str]  # image id -> unique file name stem from its ingested source
    mask_keys: dict[str, str]  # image id -> blob key of its accepted dense mask
    provenance: dict[str, dict] = field(default_factory=dict)

    @property
    def image_ids(self) -> list[str]:
        """M ∪ S ∪ T, sorted."""
        return sorted(set(self.candidates) | set(self.counterexamples) | set(self.test_set))

    def image(self, image_id: str) -> np.ndarray:
        """The RGB image (H, W, 3)."""
        return decode_png(self.ports.blobs.get(self.ports.catalog.image(image_id).blob_key))

    def mask(self, image_id: str) -> np.ndarray | None:
        """The accepted dense label map, or None."""
        key = self.mask_keys.get(image_id)
        return None if key is None else decode_label_map(self.ports.blobs.get(key))

    def prediction(self, image_id: str, model: tuple[str, str]) -> np.ndarray | None:
        """A model version's label map of the image, or None if it has none."""
        row = self.ports.catalog.prediction(image_id, *model)
        return None if row is None else decode_png(self.ports.blobs.get(row.blob_key))

    def models(self) -> dict[str, tuple[str, str]]:
        """Every model of the round by name: the target first, then the competitors."""
        return {self.target[0]: self.target} | {name: (name, version) for name, version in self.competitors}


def _stem(image_id: str, source: str) -> str:
    """The (safe) stem of an image's original file name; its id when the source has none."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", PurePosixPath(source.replace("\\", "/")).stem or image_id)


def stem_owners(sources: dict[str, str]) -> dict[str, list[str]]:
    """The stem of each original file name -> the ids of the images ingested from files of that stem."""
    owners: dict[str, list[str]] = {}
    for image_id, source in sources.items():
        owners.setdefault(_stem(image_id, source), []).append(image_id)
    return owners


def file_stems(sources: dict[str, str]) -> dict[str, str]:
    """image id -> the stem of its original file name, made unique (and safe) by the id if needed."""
    owners = stem_owners(sources)
    return {i: stem if len(owners[stem]) == 1 else f"{stem}-{i}"
            for i, stem in ((i, _stem(i, s)) for i, s in sources.items())}


def provenance(heaps: list[dict], mos: dict, vetoed: set[str], image_ids, sources: dict[str, str]) -> dict:
    """Per image: the heaps it was in (competitor, class, partition, d), its MOS, veto and original source."""
    out = {i: {"source": sources[i], "heaps": [], "mos": (mos or {}).get(i), "out_of_domain": i in vetoed}
           for i in image_ids}
    for heap in heaps:
        for member in heap["members"]:
            if member["image"] in out:
                out[member["image"]]["heaps"].append({"competitor": heap["competitor"], "class": heap["class"],
                                                      "partition_by": heap["partition_by"], "d": member["distance"]})
    return out


def load_round(ports, round_: int) -> RoundSet:
    """Gather round `round_` (InputError if unknown or not yet mined)."""
    row = ports.catalog.round(round_)
    if row is None:
        raise InputError(f"no round {round_}")
    catalog = ports.catalog
    M = catalog.round_images(round_, "candidates")
    if not M:
        raise InputError(f"round {round_} has no candidate set yet: run `segmad round close-mining {round_}`")
    S, T = catalog.round_images(round_, "counterexamples"), catalog.round_images(round_, "test")
    ids = sorted(set(M) | set(S) | set(T))
    images = ports.catalog.images_by_id(ids)
    sources = {i: images[i].source for i in ids}
    masks = _mask_keys(ports, round_, row.settings.campaigns.dense, ids)
    return RoundSet(ports, round_, (list(row.settings.class_names)
                                        or default_class_names(row.settings.num_classes or 0)),
                    (row.target, row.target_version), list(row.settings.competitors), M, S, T,
                    file_stems(sources), masks,
                    provenance(ports.catalog.load_heaps(round_), row.settings.mos, set(row.settings.out_of_domain),
                               ids, sources))


def _mask_keys(ports, round_: int, dense_campaign: int | None, ids: list[str]) -> dict[str, str]:
    # The round's stored labels once fine-tuning started; the campaign's accepted masks before that.
    keys = {}
    if dense_campaign is not None:
        with ports.catalog.connect() as conn:
            keys = dict(accepted_masks(conn, dense_campaign))
    for image_id in ids:
        if ports.blobs.exists(label_key(round_, image_id)):
            keys[image_id] = label_key(round_, image_id)
    wanted = set(ids)
    return {i: k for i, k in keys.items() if i in wanted}
