"""Campaigns: a weak-rating campaign over M of a round, a dense one over S ∪ T; open, close, access."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Connection, bindparam, func, select

from segmad.ports.blobs import BlobStore, check_key
from segmad.labelling.accounts import find_annotator, now
from segmad.labelling.errors import Conflict, Forbidden, Invalid, NotFound
from segmad.labelling.palette import image_size
from segmad.labelling.selection import weak_result
from segmad.labelling.tables import (
    campaign_annotators, campaign_items, campaigns, dense_masks, ratings,
)

_IMAGE_ID = re.compile(r"^[A-Za-z0-9_.=-]{1,128}$")
# Control characters, line and paragraph separators, lone surrogates, unassigned code points.
_UNPRINTABLE = {"Cc", "Cs", "Cn", "Zl", "Zp"}


def _check_class_names(num_classes: int, class_names) -> None:
    if not isinstance(class_names, (list, tuple)) or len(class_names) != num_classes or not all(
            isinstance(n, str) and n for n in class_names):
        raise Invalid(f"class_names must list the {num_classes} foreground class names")
    # One name per line in the VOC export's class_names.txt, where the line number is the id.
    for name in class_names:
        if any(unicodedata.category(ch) in _UNPRINTABLE for ch in name):
            raise Invalid(f"class name {name!r} holds a control character or line break")


def _check_common(store: BlobStore, num_classes: int, class_names: Sequence[str], keys: Iterable[str]):
    if not 1 <= num_classes <= 254:
        raise Invalid("num_classes must be 1..254 (0 is background, 255 ignore)")
    _check_class_names(num_classes, class_names)
    for key in keys:
        try:
            check_key(key)
        except (ValueError, TypeError):
            raise Invalid(f"invalid blob key {key!r}") from None
        if not store.exists(key):
            raise Invalid(f"no blob under key {key!r}")


def _check_images(store: BlobStore, items: Sequence[Mapping]) -> None:
    # Painting and rating read each image's size; a blob that is no image would fail them later.
    keys = [item["image_key"] for item in items]
    for start in range(0, len(keys), 64):  # fetched in batches: a campaign's images need not fit in memory
        batch = keys[start:start + 64]
        for key, data in zip(batch, store.get_many(batch)):
            try:
                image_size(data)
            except ValueError:
                raise Invalid(f"the blob {key!r} is not a readable image") from None


def _check_image_ids(items: Sequence[Mapping]) -> None:
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, Mapping) for item in items):
        raise Invalid("items must be a list of objects")
    if not items:
        raise Invalid("a campaign needs at least one item")
    ids = [item.get("image_id") for item in items]
    for image_id in ids:
        if not isinstance(image_id, str) or not _IMAGE_ID.match(image_id):
            raise Invalid(f"invalid image id {image_id!r}")
    if len(set(ids)) != len(ids):
        raise Invalid("each image appears once in a campaign")


def _annotator_ids(conn: Connection, names: Sequence[str]) -> list[int]:
    if not isinstance(names, (list, tuple)) or not names:
        raise Invalid("a campaign needs a list of at least one annotator")
    ids = []
    for name in names:
        row = find_annotator(conn, name) if isinstance(name, str) else None
        if row is None:
            raise Invalid(f"no annotator named {name!r}")
        ids.append(row.id)
    if len(set(ids)) != len(ids):
        raise Invalid("each annotator appears once in a campaign")
    return ids


def _insert_campaign(conn, kind, round, member_ids, num_classes, class_names, **extra) -> int:
    campaign_id = conn.execute(campaigns.insert().values(
        kind=kind, round=round, status="open", num_classes=num_classes,
        class_names=json.dumps(list(class_names)), created_at=now(), **extra)).inserted_primary_key[0]
    conn.execute(campaign_annotators.insert(),
                 [{"campaign_id": campaign_id, "annotator_id": a} for a in member_ids])
    return campaign_id


def create_weak_campaign(conn: Connection, store: BlobStore, round: int, items: Sequence[Mapping],
                         annotators: Sequence[str], n4: int, test_size: int, num_classes: int,
                         class_names: Sequence[str], seed: int = 0) -> int:
    """Open a campaign where each annotator rates the target's prediction on each item of M; its id.

    items: [{"image_id", "image_key", "prediction_key"}] (the target's label map as a PNG).
    """
    _check_image_ids(items)
    keys = [item.get(k) for item in items for k in ("image_key", "prediction_key")]
    _check_common(store, num_classes, class_names, keys)
    _check_images(store, items)
    if n4 < 0 or test_size < 0:
        raise Invalid("n4 and test_size are non-negative")
    member_ids = _annotator_ids(conn, annotators)
    campaign_id = _insert_campaign(conn, "weak", round, member_ids, num_classes, class_names,
                                   n4=n4, test_size=test_size, seed=seed)
    conn.execute(campaign_items.insert(), [
        {"campaign_id": campaign_id, "position": i, "image_id": item["image_id"],
         "image_key": item["image_key"], "prediction_key": item["prediction_key"]}
        for i, item in enumerate(items)])
    return campaign_id


def create_dense_campaign(conn: Connection, store: BlobStore, round: int, items: Sequence[Mapping],
                          annotators: Sequence[str], num_classes: int,
                          class_names: Sequence[str]) -> int:
    """Open a campaign of masks to paint over S ∪ T, items shared out in turn; its id.

    items: [{"image_id", "image_key", "prediction_keys": {model name: label-map key}}].
    """
    _check_image_ids(items)
    keys = [item.get("image_key") for item in items]
    for item in items:
        models = item.get("prediction_keys") or {}
        if not isinstance(models, Mapping) or not all(isinstance(m, str) and m for m in models):
            raise Invalid("prediction_keys maps model names to label-map keys")
        keys.extend(models.values())
    _check_common(store, num_classes, class_names, keys)
    _check_images(store, items)
    member_ids = _annotator_ids(conn, annotators)
    campaign_id = _insert_campaign(conn, "dense", round, member_ids, num_classes, class_names)
    # The paper's first stage: each annotator paints an equal share.
    conn.execute(campaign_items.insert(), [
        {"campaign_id": campaign_id, "position": i, "image_id": item["image_id"],
         "image_key": item["image_key"], "assigned_to": member_ids[i % len(member_ids)],
         "prediction_keys": json.dumps(dict(item.get("prediction_keys") or {}))}
        for i, item in enumerate(items)])
    return campaign_id


def get_campaign(conn: Connection, campaign_id: int):
    """The campaign row; NotFound if there is none."""
    row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    return row


# Every API call starts here: one statement, built once, for the row and the caller's membership.
_CAMPAIGN_AND_MEMBERSHIP = select(
    campaigns,
    select(campaign_annotators.c.annotator_id).where(
        campaign_annotators.c.campaign_id == campaigns.c.id,
        campaign_annotators.c.annotator_id == bindparam("annotator_id")).exists().label("is_member"),
).where(campaigns.c.id == bindparam("campaign_id"))
_ITEM = select(campaign_items).where(campaign_items.c.id == bindparam("item_id"),
                                     campaign_items.c.campaign_id == bindparam("campaign_id"))


def campaign_for(conn: Connection, campaign_id: int, user) -> object:
    """The campaign if `user` is an admin or one of its annotators; Forbidden otherwise."""
    row = conn.execute(_CAMPAIGN_AND_MEMBERSHIP, {"campaign_id": campaign_id, "annotator_id": user.id}).first()
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    if not user.is_admin and not row.is_member:
        raise Forbidden("you are not an annotator of this campaign")
    return row


def require_open(campaign) -> None:
    """Conflict unless the campaign still takes work."""
    if campaign.status != "open":
        raise Conflict(f"campaign {campaign.id} is closed")


def get_item(conn: Connection, campaign_id: int, item_id: int):
    """The item of that campaign; NotFound otherwise."""
    row = conn.execute(_ITEM, {"item_id": item_id, "campaign_id": campaign_id}).first()
    if row is None:
        raise NotFound(f"no item {item_id} in campaign {campaign_id}")
    return row


def list_items(conn: Connection, campaign_id: int) -> list[dict]:
    """The campaign's items as {id, image_id}, in order."""
    query = (select(campaign_items.c.id, campaign_items.c.image_id)
             .where(campaign_items.c.campaign_id == campaign_id).order_by(campaign_items.c.position))
    return [{"id": row.id, "image_id": row.image_id} for row in conn.execute(query)]


def selected_images(campaign) -> list[str]:
    """S ∪ T of a closed weak campaign, by image id; Invalid for any other campaign."""
    if campaign.kind != "weak" or campaign.status != "closed":
        raise Invalid(f"campaign {campaign.id} is not a closed weak campaign")
    result = json.loads(campaign.result or "{}")
    return sorted(set(result.get("counterexamples", [])) | set(result.get("test_set", [])))


def list_campaigns(conn: Connection, user) -> list[dict]:
    """Campaigns the user may see (all for admins), newest first, with progress."""
    query = select(campaigns).order_by(campaigns.c.id.desc())
    if not user.is_admin:
        query = query.join(campaign_annotators, campaign_annotators.c.campaign_id == campaigns.c.id
                           ).where(campaign_annotators.c.annotator_id == user.id)
    return [describe(conn, row) for row in conn.execute(query)]


def describe(conn: Connection, campaign) -> dict:
    """A campaign as JSON-ready data, with its progress."""
    items = conn.execute(select(func.count()).where(campaign_items.c.campaign_id == campaign.id)).scalar()
    members = conn.execute(select(func.count()).where(
        campaign_annotators.c.campaign_id == campaign.id)).scalar()
    joined = campaign_items.join(ratings if campaign.kind == "weak" else dense_masks)
    done = conn.execute(select(func.count()).select_from(joined).where(
        campaign_items.c.campaign_id == campaign.id)).scalar()
    expected = items * members if campaign.kind == "weak" else items
    return {"id": campaign.id, "kind": campaign.kind, "round": campaign.round,
            "status": campaign.status, "items": items, "annotators": members,
            "done": done, "expected": expected, "class_names": json.loads(campaign.class_names)}


def close_campaign(conn: Connection, store: BlobStore, campaign_id: int) -> dict:
    """Close a campaign; for a weak one compute and store {mos, counterexamples, test_set, out_of_domain}."""
    campaign = get_campaign(conn, campaign_id)
    require_open(campaign)
    result = weak_result(conn, store, campaign) if campaign.kind == "weak" else {}
    conn.execute(campaigns.update().where(campaigns.c.id == campaign_id).values(
        status="closed", closed_at=now(), result=json.dumps(result)))
    return result
