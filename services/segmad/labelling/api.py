"""The annotators' JSON API: queues, ratings, masks, reviews, and the pictures they look at."""

from __future__ import annotations

import json

import numpy as np
from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from segmad.cards.labels import resize_nearest
from segmad.labelling import masks, rating
from segmad.labelling.campaigns import campaign_for, describe, get_item, list_campaigns
from segmad.labelling.db import get_db
from segmad.labelling.errors import Forbidden, Invalid, NotFound
from segmad.labelling.palette import decode_label_map, image_size, overlay_png
from segmad.labelling.security import login_required

bp = Blueprint("api", __name__, url_prefix="/api")


def blobs():
    """The app's blob store."""
    return current_app.extensions["segmad.blobs"]


MAX_ID = 2**31 - 1  # ids are the catalog's INTEGER columns


def check_ids(endpoint, values) -> None:
    """Refuse path ids the database cannot hold (a URL value preprocessor)."""
    for name, value in (values or {}).items():
        if isinstance(value, int) and value > MAX_ID:
            raise Invalid(f"{name} is out of range")


# For every route of the app, pages included: all of them take their ids from these columns.
bp.app_url_value_preprocessor(check_ids)


def json_body() -> dict:
    """The request's JSON object; Invalid if it is none (or too deeply nested to parse)."""
    try:
        body = request.get_json(silent=True)
        # A lone surrogate (\ud800) parses but cannot be stored or sent back as UTF-8.
        json.dumps(body, ensure_ascii=False).encode()
    except (RecursionError, UnicodeEncodeError):
        raise Invalid("send a JSON object, not nested too deep, without lone surrogates") from None
    if not isinstance(body, dict):
        raise Invalid("send a JSON object")
    return body


def upload_body() -> bytes:
    """The request body, read whole; 413 past MAX_CONTENT_LENGTH even without a Content-Length."""
    limit, chunks, size = current_app.config["MAX_CONTENT_LENGTH"], [], 0
    # request.get_data() stops quietly at the limit on a chunked body: count what is read instead.
    while chunk := request.stream.read(1 << 16):
        size += len(chunk)
        if limit is not None and size > limit:
            raise RequestEntityTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _picture(data: bytes, mimetype: str) -> Response:
    # Keys are immutable per item, so the browser may keep them (this is what makes preloading pay).
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def prediction_at_image_size(item, key: str) -> np.ndarray:
    """A stored prediction of the item at its image's size, resized nearest-neighbour if it is not.

    Maps stored by older versions, or by a model that answered at its own input size, may differ;
    the editor paints on the image's pixels and the overlay lies on the image, so neither may get
    another size.
    """
    label_map = decode_label_map(blobs().get(key))
    try:
        height, width = image_size(blobs().get(item.image_key))
    except ValueError:
        return label_map  # no image to match: the page cannot show the item anyway
    return resize_nearest(label_map, height, width)


@bp.get("/campaigns")
@login_required
def campaigns():
    """Campaigns the caller works on (all, for admins)."""
    return jsonify(campaigns=list_campaigns(get_db(), g.user))


@bp.get("/campaigns/<int:campaign_id>")
@login_required
def campaign(campaign_id: int):
    """One campaign with its progress."""
    return jsonify(describe(get_db(), campaign_for(get_db(), campaign_id, g.user)))


@bp.get("/campaigns/<int:campaign_id>/next")
@login_required
def next_items(campaign_id: int):
    """The caller's next unrated item and the one after it (to preload)."""
    db = get_db()
    campaign_for(db, campaign_id, g.user)
    return jsonify(items=rating.next_items(db, campaign_id, g.user.id),
                   progress=rating.progress(db, campaign_id, g.user.id))


@bp.get("/campaigns/<int:campaign_id>/items/<int:item_id>/rating")
@login_required
def my_rating(campaign_id: int, item_id: int):
    """An item with the caller's own vote, to go back and change it."""
    db = get_db()
    campaign_for(db, campaign_id, g.user)
    return jsonify(rating.rated_item(db, campaign_id, item_id, g.user.id))


@bp.put("/campaigns/<int:campaign_id>/items/<int:item_id>/rating")
@login_required
def rate(campaign_id: int, item_id: int):
    """Record the caller's vote: {"rating": 1..5 | "ood", "seconds": s}."""
    db = get_db()
    body = json_body()
    rating.submit_rating(db, campaign_for(db, campaign_id, g.user), item_id, g.user.id,
                         body.get("rating"), body.get("seconds"))
    return jsonify(saved=True)


@bp.get("/campaigns/<int:campaign_id>/items/<int:item_id>/image")
@login_required
def image(campaign_id: int, item_id: int):
    """The item's image."""
    db = get_db()
    campaign_for(db, campaign_id, g.user)
    data = blobs().get(get_item(db, campaign_id, item_id).image_key)
    return _picture(data, "image/jpeg" if data[:2] == b"\xff\xd8" else "image/png")


@bp.get("/campaigns/<int:campaign_id>/items/<int:item_id>/overlay")
@login_required
def overlay(campaign_id: int, item_id: int):
    """The target's prediction in class colours, transparent background (weak campaigns)."""
    db = get_db()
    campaign_for(db, campaign_id, g.user)
    item = get_item(db, campaign_id, item_id)
    if not item.prediction_key:
        raise NotFound("this item has no target prediction")
    return _picture(overlay_png(prediction_at_image_size(item, item.prediction_key)), "image/png")


def _raw(label_map) -> Response:
    response = Response(label_map.tobytes(), mimetype="application/octet-stream")
    response.headers["X-Height"], response.headers["X-Width"] = map(str, label_map.shape)
    return response


@bp.get("/campaigns/<int:campaign_id>/items/<int:item_id>/labels")
@login_required
def labels(campaign_id: int, item_id: int):
    """A label map as raw H·W bytes at the image's size: ?model=NAME for a prediction, ?mask=1 for the saved mask."""
    db = get_db()
    campaign = campaign_for(db, campaign_id, g.user)
    item = get_item(db, campaign_id, item_id)
    if request.args.get("mask"):
        mask = masks.mask_of_item(db, item_id)
        if mask is None:
            raise NotFound("no mask saved for this item")
        # Someone else's mask is visible only while it waits for review (or to admins).
        if not (g.user.is_admin or item.assigned_to == g.user.id or mask.status == "submitted"):
            raise Forbidden("this mask belongs to another annotator")
        # A saved mask was checked against the image's size when it was saved (masks.check_mask).
        return _raw(decode_label_map(blobs().get(mask.mask_key)))
    models = json.loads(item.prediction_keys or "{}")
    model = request.args.get("model", "")
    if campaign.kind == "weak" and model in ("", "target"):
        return _raw(prediction_at_image_size(item, item.prediction_key))
    if model not in models:
        raise NotFound(f"no prediction of model {model!r} for this item")
    return _raw(prediction_at_image_size(item, models[model]))


@bp.get("/campaigns/<int:campaign_id>/items/<int:item_id>")
@login_required
def dense_item(campaign_id: int, item_id: int):
    """An item of a dense campaign as the editor needs it."""
    db = get_db()
    return jsonify(masks.item_detail(db, campaign_for(db, campaign_id, g.user), item_id))


@bp.get("/campaigns/<int:campaign_id>/queue")
@login_required
def queue(campaign_id: int):
    """Masks the caller has to paint and others' masks they can review."""
    db = get_db()
    campaign_for(db, campaign_id, g.user)
    return jsonify(paint=masks.painting_queue(db, campaign_id, g.user.id),
                   review=masks.review_queue(db, campaign_id, g.user.id))


@bp.put("/campaigns/<int:campaign_id>/items/<int:item_id>/mask")
@login_required
def save_mask(campaign_id: int, item_id: int):
    """Save a label map (image/png or raw H·W bytes); ?seconds=S&started_from=MODEL."""
    db = get_db()
    campaign = campaign_for(db, campaign_id, g.user)
    try:
        seconds = float(request.args.get("seconds", "nan"))
    except ValueError:
        raise Invalid("seconds must be a number") from None
    mask_id = masks.save_mask(db, blobs(), campaign, item_id, g.user, upload_body(),
                              request.mimetype, request.args.get("started_from"), seconds)
    return jsonify(mask_id=mask_id, status="submitted")


@bp.post("/campaigns/<int:campaign_id>/masks/<int:mask_id>/review")
@login_required
def review(campaign_id: int, mask_id: int):
    """{"decision": "accept" | "return", "comment": "..."} on another annotator's mask."""
    db = get_db()
    body = json_body()
    status = masks.review_mask(db, campaign_for(db, campaign_id, g.user), mask_id, g.user,
                               body.get("decision"), str(body.get("comment") or ""))
    return jsonify(status=status)
