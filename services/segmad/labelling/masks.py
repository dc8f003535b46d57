"""Dense labelling: checking and saving label maps, the painter's queue, and the review stage."""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import Connection, and_, select

from segmad.ports.blobs import BlobStore
from segmad.labelling.accounts import now
from segmad.labelling.campaigns import get_item, require_open
from segmad.labelling.errors import Conflict, Forbidden, Invalid, NotFound
from segmad.labelling.palette import IGNORE, decode_label_map, encode_palette_png, image_size, png_size
from segmad.labelling.rating import parse_seconds
from segmad.labelling.tables import annotators, campaign_items, dense_masks, mask_reviews


def check_mask(data: bytes, content_type: str, height: int, width: int, num_classes: int) -> np.ndarray:
    """The label map in `data` (a one-channel PNG, or raw H·W bytes); Invalid with the reason otherwise."""
    if content_type == "image/png":
        try:
            mask_height, mask_width = png_size(data)
        except ValueError as error:
            raise Invalid(str(error)) from None
        # Compared before decoding: a small file may declare a huge image.
        if (mask_height, mask_width) != (height, width):
            raise Invalid(f"the mask is {mask_width}x{mask_height} pixels, the image is {width}x{height}")
        try:
            label_map = decode_label_map(data)
        except ValueError as error:
            raise Invalid(str(error)) from None
        except Exception:
            raise Invalid("the mask is not a readable PNG") from None
        if label_map.shape != (height, width):
            raise Invalid("the mask is not a readable PNG")
    elif content_type == "application/octet-stream":
        if len(data) != height * width:
            raise Invalid(f"a raw mask has {height * width} bytes (one per pixel of the "
                          f"{width}x{height} image), got {len(data)}")
        label_map = np.frombuffer(data, dtype=np.uint8).reshape(height, width)
    else:
        raise Invalid("send the mask as image/png or application/octet-stream")
    unknown = sorted(set(np.unique(label_map).tolist()) - set(range(num_classes + 1)) - {IGNORE})
    if unknown:
        raise Invalid(f"the mask has unknown class ids {unknown[:10]}; allowed are 0..{num_classes} "
                      f"and {IGNORE} (ignore)")
    return label_map


def mask_key(campaign_id: int, item_id: int) -> str:
    """Blob key of an item's mask, made of ids the database issued (never of user input)."""
    return f"labelling/masks/c{campaign_id}/i{item_id}.png"


def mask_of_item(conn: Connection, item_id: int):
    """The item's mask row, or None."""
    return conn.execute(select(dense_masks).where(dense_masks.c.item_id == item_id)).first()


def last_comment(conn: Connection, mask_id: int) -> str:
    """The latest reviewer comment on a mask ('' if none)."""
    row = conn.execute(select(mask_reviews.c.comment).where(mask_reviews.c.mask_id == mask_id)
                       .order_by(mask_reviews.c.id.desc()).limit(1)).first()
    return row.comment if row else ""


def item_detail(conn: Connection, campaign, item_id: int) -> dict:
    """An item of a dense campaign as the editor needs it."""
    item = get_item(conn, campaign.id, item_id)
    mask = mask_of_item(conn, item_id)
    base = f"/api/campaigns/{campaign.id}/items/{item.id}"
    return {"id": item.id, "image_id": item.image_id, "image_url": base + "/image",
            "models": sorted(json.loads(item.prediction_keys or "{}")),
            "labels_url": base + "/labels", "assigned_to": item.assigned_to,
            "mask": None if mask is None else {"id": mask.id, "status": mask.status,
                                               "comment": last_comment(conn, mask.id)}}


def painting_queue(conn: Connection, campaign_id: int, annotator_id: int) -> list[dict]:
    """Items the annotator still has to paint: theirs with no mask yet, or sent back to them."""
    query = (select(campaign_items.c.id, campaign_items.c.image_id, dense_masks.c.status,
                    dense_masks.c.id.label("mask_id"))
             .outerjoin(dense_masks, dense_masks.c.item_id == campaign_items.c.id)
             .where(campaign_items.c.campaign_id == campaign_id,
                    campaign_items.c.assigned_to == annotator_id,
                    (dense_masks.c.id.is_(None)) | (dense_masks.c.status == "returned"))
             .order_by(campaign_items.c.position))
    return [{"item_id": r.id, "image_id": r.image_id, "status": r.status or "todo",
             "comment": last_comment(conn, r.mask_id) if r.mask_id else ""} for r in conn.execute(query)]


def review_queue(conn: Connection, campaign_id: int, annotator_id: int) -> list[dict]:
    """Submitted masks of others that the annotator can cross-check."""
    query = (select(dense_masks.c.id, dense_masks.c.item_id, campaign_items.c.image_id,
                    annotators.c.name)
             .join(campaign_items, campaign_items.c.id == dense_masks.c.item_id)
             .join(annotators, annotators.c.id == dense_masks.c.annotator_id)
             .where(campaign_items.c.campaign_id == campaign_id, dense_masks.c.status == "submitted",
                    dense_masks.c.annotator_id != annotator_id,
                    campaign_items.c.assigned_to.is_distinct_from(annotator_id))
             .order_by(dense_masks.c.id))
    return [{"mask_id": r.id, "item_id": r.item_id, "image_id": r.image_id, "painter": r.name}
            for r in conn.execute(query)]


def save_mask(conn: Connection, store: BlobStore, campaign, item_id: int, user, data: bytes,
              content_type: str, started_from: str | None, seconds) -> int:
    """Check and store a painted (or imported) label map for review; the mask id."""
    require_open(campaign)
    if campaign.kind != "dense":
        raise Invalid("this campaign takes ratings, not masks")
    item = get_item(conn, campaign.id, item_id)
    if item.assigned_to != user.id and not user.is_admin:
        raise Forbidden("this item is assigned to another annotator")
    models = json.loads(item.prediction_keys or "{}")
    if started_from not in (None, "", "import") and started_from not in models:
        raise Invalid(f"unknown starting model {started_from!r}")
    seconds = parse_seconds(seconds)
    existing = mask_of_item(conn, item_id)
    if existing is not None and existing.status == "accepted":
        raise Conflict("this mask was accepted in review and can no longer change")
    # A review judges the mask it was shown: it may not change under the reviewer's eyes.
    if existing is not None and existing.status == "submitted":
        raise Conflict("this mask is waiting for review and can change only once it is sent back")
    try:
        height, width = image_size(store.get(item.image_key))
    except ValueError:
        raise Invalid(f"the image of item {item_id} is not a readable image") from None
    label_map = check_mask(data, content_type, height, width, campaign.num_classes)
    key = mask_key(campaign.id, item_id)
    store.put(key, encode_palette_png(label_map), "image/png")
    values = {"annotator_id": user.id, "mask_key": key, "started_from": started_from or None,
              "seconds": seconds, "status": "submitted", "saved_at": now()}
    if existing is None:
        return conn.execute(dense_masks.insert().values(item_id=item_id, **values)).inserted_primary_key[0]
    # A re-save after being sent back adds the new time to the time already spent.
    values["seconds"] = existing.seconds + seconds
    conn.execute(dense_masks.update().where(dense_masks.c.id == existing.id).values(**values))
    return existing.id


def get_mask(conn: Connection, campaign_id: int, mask_id: int):
    """The mask row of that campaign (with its item's image id); NotFound otherwise."""
    row = conn.execute(select(dense_masks, campaign_items.c.image_id, campaign_items.c.campaign_id,
                              campaign_items.c.assigned_to)
                       .join(campaign_items, campaign_items.c.id == dense_masks.c.item_id)
                       .where(and_(dense_masks.c.id == mask_id,
                                   campaign_items.c.campaign_id == campaign_id))).first()
    if row is None:
        raise NotFound(f"no mask {mask_id} in campaign {campaign_id}")
    return row


def review_mask(conn: Connection, campaign, mask_id: int, reviewer, decision: str, comment: str) -> str:
    """Accept a submitted mask or send it back with a comment; the mask's new status."""
    require_open(campaign)
    mask = get_mask(conn, campaign.id, mask_id)
    # An imported (or admin-saved) mask is the importer's, yet still on the item its assignee was
    # to paint: neither may judge it.
    if reviewer.id in (mask.annotator_id, mask.assigned_to):
        raise Forbidden("a mask is reviewed by another annotator than its painter")
    if mask.status != "submitted":
        raise Conflict(f"this mask is {mask.status}, not waiting for review")
    if decision not in ("accept", "return"):
        raise Invalid('decision is "accept" or "return"')
    comment = (comment or "").strip()
    if decision == "return" and not comment:
        raise Invalid("say what to fix when sending a mask back")
    if len(comment) > 2000:
        raise Invalid("a comment has at most 2000 characters")
    conn.execute(mask_reviews.insert().values(mask_id=mask_id, reviewer_id=reviewer.id,
                                              decision=decision, comment=comment, reviewed_at=now()))
    status = "accepted" if decision == "accept" else "returned"
    conn.execute(dense_masks.update().where(dense_masks.c.id == mask_id).values(status=status))
    return status


def unaccepted_images(conn: Connection, campaign_id: int) -> list[str]:
    """Images of a dense campaign without an accepted mask, by id."""
    query = (select(campaign_items.c.image_id, dense_masks.c.status)
             .select_from(campaign_items.outerjoin(dense_masks, dense_masks.c.item_id == campaign_items.c.id))
             .where(campaign_items.c.campaign_id == campaign_id).order_by(campaign_items.c.image_id))
    return [image_id for image_id, status in conn.execute(query) if status != "accepted"]
