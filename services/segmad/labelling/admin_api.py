"""Admins' JSON API: open and close campaigns, statistics, export and import of dense labels."""

from __future__ import annotations

import json

from flask import Blueprint, Response, g, jsonify, request

from segmad.labelling import campaigns, exchange, masks
from segmad.labelling.api import MAX_ID, blobs, json_body, upload_body
from segmad.labelling.db import get_db
from segmad.labelling.errors import Invalid
from segmad.labelling.security import admin_required
from segmad.labelling.stats import annotator_stats, rating_agreement

bp = Blueprint("admin_api", __name__, url_prefix="/api/admin")


def _int(body: dict, name: str, default=None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{name} must be an integer")
    if not 0 <= value <= MAX_ID:  # the catalog's INTEGER columns (and a seed numpy takes)
        raise Invalid(f"{name} must be between 0 and {MAX_ID}")
    return value


@bp.post("/campaigns/weak")
@admin_required
def open_weak():
    """Open a weak-rating campaign over M: {round, items, annotators, n4, test_size, num_classes, class_names, seed}."""
    body = json_body()
    campaign_id = campaigns.create_weak_campaign(
        get_db(), blobs(), _int(body, "round"), body.get("items") or [], body.get("annotators") or [],
        _int(body, "n4"), _int(body, "test_size", 30), _int(body, "num_classes"),
        body.get("class_names") or [], _int(body, "seed", 0))
    return jsonify(id=campaign_id), 201


@bp.post("/campaigns/dense")
@admin_required
def open_dense():
    """Open a dense campaign over S ∪ T: {round, items, annotators, num_classes, class_names}."""
    body = json_body()
    campaign_id = campaigns.create_dense_campaign(
        get_db(), blobs(), _int(body, "round"), body.get("items") or [], body.get("annotators") or [],
        _int(body, "num_classes"), body.get("class_names") or [])
    return jsonify(id=campaign_id), 201


@bp.post("/campaigns/<int:campaign_id>/close")
@admin_required
def close(campaign_id: int):
    """Close a campaign; a weak one answers {mos, counterexamples, test_set, out_of_domain}."""
    return jsonify(campaigns.close_campaign(get_db(), blobs(), campaign_id))


@bp.get("/campaigns/<int:campaign_id>/result")
@admin_required
def result(campaign_id: int):
    """What closing the campaign computed (null while it is open)."""
    row = campaigns.get_campaign(get_db(), campaign_id)
    return jsonify(json.loads(row.result) if row.result else None)


@bp.get("/campaigns/<int:campaign_id>/stats")
@admin_required
def stats(campaign_id: int):
    """Progress, per-annotator counts and median seconds, and ordinal Krippendorff's alpha."""
    db = get_db()
    campaign = campaigns.get_campaign(db, campaign_id)
    return jsonify(campaign=campaigns.describe(db, campaign), annotators=annotator_stats(db, campaign_id),
                   krippendorff_alpha=rating_agreement(db, campaign_id) if campaign.kind == "weak" else None)


@bp.get("/campaigns/<int:campaign_id>/export/voc")
@admin_required
def export_voc(campaign_id: int):
    """Accepted masks as a zip of VOC palette PNGs with class_names.txt."""
    campaign = campaigns.get_campaign(get_db(), campaign_id)
    data = exchange.export_voc(get_db(), blobs(), campaign, json.loads(campaign.class_names))
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-voc.zip"'})


@bp.get("/campaigns/<int:campaign_id>/export/coco")
@admin_required
def export_coco(campaign_id: int):
    """Accepted masks as COCO JSON with RLE segmentations."""
    campaign = campaigns.get_campaign(get_db(), campaign_id)
    return jsonify(exchange.export_coco(get_db(), blobs(), campaign, json.loads(campaign.class_names)))


@bp.put("/campaigns/<int:campaign_id>/items/<int:item_id>/import")
@admin_required
def import_mask(campaign_id: int, item_id: int):
    """Import a VOC PNG mask made in another tool (checked like a painted one, then reviewed)."""
    db = get_db()
    campaign = campaigns.get_campaign(db, campaign_id)
    mask_id = masks.save_mask(db, blobs(), campaign, item_id, g.user, upload_body(),
                              request.mimetype, "import", 0.0)
    return jsonify(mask_id=mask_id, status="submitted")
