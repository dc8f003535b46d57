"""`import_masks`: masks made elsewhere into a round's open dense campaign, checked and awaiting review."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from segmad.catalog.states import MINING
from segmad.codec import encode_png
from segmad.errors import InputError
from segmad.exchange.readers import READERS
from segmad.exchange.round_set import file_stems
from segmad.labelling import accounts, masks
from segmad.labelling.campaigns import get_campaign, list_items
from segmad.labelling.errors import LabellingError

_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-(.+)$")  # Label Studio prefixes uploaded files so


def import_masks(ports, round_: int, format: str, source: Path, admin: str) -> dict:
    """Store each mask whose file name matches an image of the round's dense campaign, as the admin
    account `admin` would by the admin import (checked like a painted mask, then reviewed);
    {"imported": [image ids], "unmatched": [file stems]}."""
    if format not in READERS:
        raise InputError(f"unknown format {format!r}; choose one of {', '.join(READERS)}")
    if not Path(source).exists():
        raise InputError("no such file or folder", source)
    row = ports.catalog.round(round_)
    if row is None:
        raise InputError(f"no round {round_}")
    campaign_id = row.settings.campaigns.dense
    if campaign_id is None:
        step = (f"close its mining (`segmad round close-mining {round_}`), have M rated, then run "
                f"`segmad round select {round_}`" if row.state == MINING else f"run `segmad round select {round_}`")
        raise InputError(f"round {round_} has no dense campaign yet ({row.state}): {step}")
    found = READERS[format](source, list(row.settings.class_names))
    with ports.catalog.begin() as conn:
        user = _admin(conn, admin)
        campaign = get_campaign(conn, campaign_id)
        items = {item["image_id"]: item["id"] for item in list_items(conn, campaign_id)}
        by_stem = _stems(ports, round_, items)
        imported, unmatched = [], []
        for stem, label_map in found.items():
            image_id = by_stem.get(stem) or by_stem.get(_unprefixed(stem))
            if image_id is None:
                unmatched.append(stem)
                continue
            try:
                masks.save_mask(conn, ports.blobs, campaign, items[image_id], user, encode_png(label_map),
                                "image/png", "import", 0.0)
            except LabellingError as error:
                raise InputError(f"{error} (image {image_id})", stem) from None
            imported.append(image_id)
    if not imported:
        raise InputError(f"no mask matches an image of round {round_}'s dense campaign "
                         f"(files: {', '.join(sorted(found)[:5]) or 'none'})", source)
    return {"campaign": campaign_id, "imported": sorted(imported), "unmatched": sorted(unmatched)}


def _stems(ports, round_: int, image_ids) -> dict[str, str]:
    """File stem -> image id: the plain source stem, the stem `segmad export` wrote, the segmad id."""
    everything = set(image_ids) | {i for kind in ("candidates", "counterexamples", "test")
                                   for i in ports.catalog.round_images(round_, kind)}
    sources = {i: image.source for i, image in ports.catalog.images_by_id(everything).items()}
    by_stem = {}
    for stems in (file_stems({i: sources[i] for i in image_ids}), file_stems(sources), {i: i for i in image_ids}):
        by_stem |= {stem: i for i, stem in stems.items() if i in image_ids}
    return by_stem


def _unprefixed(stem: str) -> str | None:
    match = _UPLOAD_PREFIX.match(stem)
    return match.group(1) if match else None


def _admin(conn, name: str) -> SimpleNamespace:
    account = accounts.find_annotator(conn, name)
    if account is None or not account.is_admin or account.disabled:
        raise InputError(f"{name!r} is not an enabled admin account (`segmad annotators add NAME --admin`)")
    return SimpleNamespace(id=account.id, name=account.name, is_admin=True)
