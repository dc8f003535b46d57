"""Campaign items built from what the catalog records of a round (M, the target's and competitors' maps).

The admin pages and the rounds controller both call these, so a campaign opened from either
place holds the same items.
"""

from __future__ import annotations

from typing import Iterable

from segmad.catalog import Catalog
from segmad.labelling.errors import Invalid

TARGET = "target"  # the name the editor shows for the target's prediction, as in `predictions export`


def _round(catalog: Catalog, round: int):
    row = catalog.round(round)
    if row is None:
        raise Invalid(f"no round {round} in the catalog")
    return row


def _image_key(catalog: Catalog, image_id: str) -> str:
    image = catalog.image(image_id)
    if image is None:
        raise Invalid(f"image {image_id!r} is not in the catalog")
    return image.blob_key


def _prediction_key(catalog: Catalog, image_id: str, model: str, version: str) -> str | None:
    prediction = catalog.prediction(image_id, model, version)
    return None if prediction is None else prediction.blob_key


def competitors(catalog: Catalog, round: int) -> list[tuple[str, str]]:
    """The round's competitors as (name, version), as `round start` stored them in its settings."""
    return list(_round(catalog, round).settings.competitors)


def weak_items_for_round(catalog: Catalog, round: int) -> list[dict]:
    """Items of a weak campaign over the round's candidates M: [{image_id, image_key, prediction_key}].

    Invalid if the round has no candidates yet or the target has no prediction for one of them.
    """
    row = _round(catalog, round)
    candidates = catalog.round_images(round, "candidates")
    if not candidates:
        raise Invalid(f"round {round} has no candidates yet; close its mining first")
    items = []
    for image_id in candidates:
        key = _prediction_key(catalog, image_id, row.target, row.target_version)
        if key is None:
            raise Invalid(f"the target {row.target}@{row.target_version} has no prediction for {image_id!r}")
        items.append({"image_id": image_id, "image_key": _image_key(catalog, image_id), "prediction_key": key})
    return items


def dense_items_for(catalog: Catalog, round: int, image_ids: Iterable[str]) -> list[dict]:
    """Items of a dense campaign: [{image_id, image_key, prediction_keys: {"target" | competitor: key}}].

    The target's map is required (the editor starts from it by default); a competitor without a
    map for an image is left out of that image's choices.
    """
    row = _round(catalog, round)
    models = competitors(catalog, round)
    items = []
    for image_id in sorted(set(image_ids)):
        target_key = _prediction_key(catalog, image_id, row.target, row.target_version)
        if target_key is None:
            raise Invalid(f"the target {row.target}@{row.target_version} has no prediction for {image_id!r}")
        keys = {TARGET: target_key}
        for name, version in models:
            key = _prediction_key(catalog, image_id, name, version)
            if key is not None and name != TARGET:
                keys[name] = key
        items.append({"image_id": image_id, "image_key": _image_key(catalog, image_id), "prediction_keys": keys})
    return items
