"""HTML pages; they hold no logic of their own and fetch their data from the JSON API."""

from __future__ import annotations

import json

from flask import Blueprint, Response, g, render_template

from segmad.labelling import masks
from segmad.labelling.campaigns import campaign_for, list_campaigns, list_items
from segmad.labelling.db import get_db
from segmad.labelling.errors import Invalid
from segmad.labelling.palette import hex_colour
from segmad.labelling.security import admin_required, login_required
from segmad.labelling.stats import annotator_stats, rating_agreement

bp = Blueprint("pages", __name__)


def legend(campaign) -> list[dict]:
    """Class ids, names and colours of a campaign, background first."""
    names = ["background", *json.loads(campaign.class_names)]
    return [{"id": k, "name": name, "colour": hex_colour(k)} for k, name in enumerate(names)]


def _campaign(campaign_id: int, kind: str):
    campaign = campaign_for(get_db(), campaign_id, g.user)
    if campaign.kind != kind:
        raise Invalid(f"campaign {campaign_id} is a {campaign.kind} campaign")
    return campaign


@bp.get("/")
@login_required
def home():
    """The user's campaigns."""
    return render_template("home.html", campaigns=list_campaigns(get_db(), g.user))


@bp.get("/campaigns/<int:campaign_id>/rate")
@login_required
def rate(campaign_id: int):
    """The weak-rating page (Fig. 8)."""
    campaign = _campaign(campaign_id, "weak")
    return render_template("rate.html", campaign=campaign, legend=legend(campaign))


@bp.get("/campaigns/<int:campaign_id>/dense")
@login_required
def dense(campaign_id: int):
    """The annotator's masks to paint and others' masks to review."""
    campaign = _campaign(campaign_id, "dense")
    db = get_db()
    return render_template("dense.html", campaign=campaign,
                           todo=masks.painting_queue(db, campaign_id, g.user.id),
                           reviews=masks.review_queue(db, campaign_id, g.user.id))


@bp.get("/campaigns/<int:campaign_id>/items/<int:item_id>/paint")
@login_required
def paint(campaign_id: int, item_id: int):
    """The canvas editor (Fig. 9)."""
    campaign = _campaign(campaign_id, "dense")
    item = masks.item_detail(get_db(), campaign, item_id)
    return render_template("paint.html", campaign=campaign, item=item, legend=legend(campaign))


@bp.get("/campaigns/<int:campaign_id>/masks/<int:mask_id>/review")
@login_required
def review(campaign_id: int, mask_id: int):
    """Cross-check one mask: accept it or send it back with a comment."""
    campaign = _campaign(campaign_id, "dense")
    mask = masks.get_mask(get_db(), campaign_id, mask_id)
    return render_template("review.html", campaign=campaign, mask=mask, legend=legend(campaign))


@bp.get("/admin")
@admin_required
def admin():
    """Campaigns with progress, per-annotator statistics and agreement; close, export, import."""
    db = get_db()
    rows = []
    for info in list_campaigns(db, g.user):
        rows.append({**info, "stats": annotator_stats(db, info["id"]),
                     "alpha": rating_agreement(db, info["id"]) if info["kind"] == "weak" else None,
                     "item_list": list_items(db, info["id"]) if info["kind"] == "dense" else []})
    return render_template("admin.html", campaigns=rows)



@bp.get("/campaigns/<int:campaign_id>/legend.css")
@login_required
def legend_css(campaign_id: int):
    """Class colours as CSS classes (.c0, .c1, …): the CSP forbids inline styles."""
    campaign = campaign_for(get_db(), campaign_id, g.user)
    css = "".join(f".c{c['id']}{{background:{c['colour']}}}\n" for c in legend(campaign))
    return Response(css, mimetype="text/css")
