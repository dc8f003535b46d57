"""Admins' HTML forms: open a campaign from a round (or from a closed weak campaign), close, import a mask.

Each form posts here, calls the same service functions as the JSON API, then redirects to a page
that shows the outcome (Post/Redirect/Get); a refusal comes back as a message on that page.
"""

from __future__ import annotations

import functools
import json

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from segmad.cards.labels import default_class_names
from segmad.catalog import Catalog
from segmad.labelling import campaigns, masks
from segmad.labelling.accounts import list_annotators
from segmad.labelling.api import blobs
from segmad.labelling.db import get_db
from segmad.labelling.errors import Invalid, LabellingError
from segmad.labelling.rounds_bridge import dense_items_for, weak_items_for_round
from segmad.labelling.security import admin_required

bp = Blueprint("admin_pages", __name__, url_prefix="/admin")


def catalog() -> Catalog:
    """The catalog in the app's database (rounds, images, predictions)."""
    return Catalog(current_app.extensions["segmad.engine"])


def _refusals_back_to(endpoint: str):
    """Turn a refusal into a message on `endpoint`'s page, with the request's writes undone."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(**kwargs):
            try:
                return view(**kwargs)
            except LabellingError as error:
                if g.get("db") is not None:
                    g.db.rollback()
                flash(str(error), "error")
                return redirect(url_for(endpoint), code=303)
        return wrapped
    return decorate


def _int(name: str, default: int | None = None) -> int:
    value = request.form.get(name, "").strip()
    if not value and default is not None:
        return default
    try:
        return int(value)
    except ValueError:
        raise Invalid(f"{name.replace('_', ' ')} must be a whole number") from None


def _class_names(round_row, text: str) -> list[str]:
    """The names typed (comma-separated), or else the round's (class-1..class-C when it has none); Invalid if
    they disagree with the round's C."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    num_classes = round_row.settings.num_classes
    if not names and num_classes is None:
        raise Invalid(f"round {round_row.round} does not record its number of classes; type the class names")
    if not names:
        return list(round_row.settings.class_names) or default_class_names(num_classes)
    if num_classes is not None and len(names) != num_classes:
        raise Invalid(f"round {round_row.round} has {num_classes} classes, {len(names)} names were given")
    return names


def _round_rows(cat: Catalog) -> list[dict]:
    return [{"round": r.round, "state": r.state, "target": f"{r.target}@{r.target_version}", "n4": r.n4,
             "num_classes": r.settings.num_classes,
             "candidates": len(cat.round_images(r.round, "candidates"))} for r in cat.rounds()]


@bp.get("/campaigns/new")
@admin_required
def new_campaign():
    """Forms to open a weak campaign over a round's M, or a dense one over S ∪ T of a closed weak one."""
    db = get_db()
    every = campaigns.list_campaigns(db, g.user)
    closed_weak = [c for c in every if c["kind"] == "weak" and c["status"] == "closed"]
    last_names = ", ".join(every[0]["class_names"]) if every else ""
    return render_template("admin_new.html", rounds=_round_rows(catalog()), annotators=list_annotators(db),
                           closed_weak=closed_weak, class_names=last_names)


@bp.post("/campaigns/weak")
@admin_required
@_refusals_back_to("admin_pages.new_campaign")
def open_weak():
    """Open a weak-rating campaign over the round's candidates M (the target's maps from the catalog)."""
    cat, round_ = catalog(), _int("round")
    row = cat.round(round_)
    if row is None:
        raise Invalid(f"no round {round_} in the catalog")
    items = weak_items_for_round(cat, round_)
    names = _class_names(row, request.form.get("class_names", ""))
    campaign_id = campaigns.create_weak_campaign(
        get_db(), blobs(), round_, items, request.form.getlist("annotators"), _int("n4", row.n4),
        _int("test_size", 30), len(names), names, _int("seed", 0))
    flash(f"opened weak campaign #{campaign_id} over {len(items)} images of round {round_}")
    return redirect(url_for("pages.admin"), code=303)


@bp.post("/campaigns/dense")
@admin_required
@_refusals_back_to("admin_pages.new_campaign")
def open_dense():
    """Open a dense campaign over S ∪ T of a closed weak campaign, pre-filled from every model's maps."""
    db = get_db()
    weak = campaigns.get_campaign(db, _int("weak_campaign"))
    image_ids = campaigns.selected_images(weak)
    items = dense_items_for(catalog(), weak.round, image_ids)
    names = json.loads(weak.class_names)
    campaign_id = campaigns.create_dense_campaign(db, blobs(), weak.round, items,
                                                  request.form.getlist("annotators"), len(names), names)
    flash(f"opened dense campaign #{campaign_id} over {len(items)} images (S ∪ T of #{weak.id})")
    return redirect(url_for("pages.admin"), code=303)


@bp.post("/campaigns/<int:campaign_id>/close")
@admin_required
@_refusals_back_to("pages.admin")
def close(campaign_id: int):
    """Close a campaign; a weak one selects S and T."""
    result = campaigns.close_campaign(get_db(), blobs(), campaign_id)
    if "counterexamples" in result:
        flash(f"closed campaign #{campaign_id}: S has {len(result['counterexamples'])} images, "
              f"T has {len(result['test_set'])}, {len(result['out_of_domain'])} out of domain")
    else:
        flash(f"closed campaign #{campaign_id}")
    return redirect(url_for("pages.admin"), code=303)


@bp.post("/campaigns/<int:campaign_id>/import")
@admin_required
@_refusals_back_to("pages.admin")
def import_mask(campaign_id: int):
    """Import a VOC PNG made in another tool for one item (checked like a painted mask, then reviewed)."""
    upload = request.files.get("mask")
    if upload is None or not upload.filename:
        raise Invalid("choose a PNG file to import")
    db = get_db()
    campaign = campaigns.get_campaign(db, campaign_id)
    item_id = _int("item_id")
    masks.save_mask(db, blobs(), campaign, item_id, g.user, upload.read(), "image/png", "import", 0.0)
    flash(f"imported the mask of item {item_id} into campaign #{campaign_id}; it waits for review")
    return redirect(url_for("pages.admin"), code=303)
