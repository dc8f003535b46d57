"""Per-annotator statistics of a campaign and the agreement of its ratings."""

from __future__ import annotations

from statistics import median

from sqlalchemy import Connection, select

from segmad.labelling.agreement import ordinal_alpha
from segmad.labelling.tables import (
    annotators, campaign_annotators, campaign_items, campaigns, dense_masks, mask_reviews, ratings,
)


def work_log(conn: Connection) -> list[tuple[str, int, str, str, float]]:
    """Every rating and mask recorded, as ("rating" | "mask", round, annotator, image id, seconds), sorted."""
    work = []
    for kind, table in (("rating", ratings), ("mask", dense_masks)):
        rows = conn.execute(select(annotators.c.name, campaign_items.c.image_id, table.c.seconds, campaigns.c.round)
                            .join(table, table.c.item_id == campaign_items.c.id)
                            .join(campaigns, campaigns.c.id == campaign_items.c.campaign_id)
                            .join(annotators, annotators.c.id == table.c.annotator_id)).all()
        work += [(kind, round_, name, image_id, seconds) for name, image_id, seconds, round_ in sorted(rows)]
    return work


def annotator_stats(conn: Connection, campaign_id: int) -> list[dict]:
    """For each annotator of the campaign: counts and median seconds per rating and per mask."""
    members = conn.execute(select(annotators.c.id, annotators.c.name)
                           .join(campaign_annotators, campaign_annotators.c.annotator_id == annotators.c.id)
                           .where(campaign_annotators.c.campaign_id == campaign_id)
                           .order_by(annotators.c.name)).all()
    in_campaign = campaign_items.c.campaign_id == campaign_id
    rated = ratings.join(campaign_items, campaign_items.c.id == ratings.c.item_id)
    painted = dense_masks.join(campaign_items, campaign_items.c.id == dense_masks.c.item_id)
    reviewed = mask_reviews.join(dense_masks, dense_masks.c.id == mask_reviews.c.mask_id).join(
        campaign_items, campaign_items.c.id == dense_masks.c.item_id)
    rating_secs = _seconds_by_annotator(conn, select(ratings.c.annotator_id, ratings.c.seconds)
                                        .select_from(rated).where(in_campaign))
    mask_secs = _seconds_by_annotator(conn, select(dense_masks.c.annotator_id, dense_masks.c.seconds)
                                      .select_from(painted).where(in_campaign))
    reviews = _seconds_by_annotator(conn, select(mask_reviews.c.reviewer_id, mask_reviews.c.id)
                                    .select_from(reviewed).where(in_campaign))
    out = []
    for annotator_id, name in members:
        r, m = rating_secs.get(annotator_id, []), mask_secs.get(annotator_id, [])
        out.append({"annotator": name, "ratings": len(r), "median_seconds_per_rating": _median(r),
                    "masks": len(m), "median_seconds_per_mask": _median(m),
                    "reviews": len(reviews.get(annotator_id, []))})
    return out


def _seconds_by_annotator(conn, query) -> dict[int, list[float]]:
    grouped: dict[int, list[float]] = {}
    for annotator_id, value in conn.execute(query):
        grouped.setdefault(annotator_id, []).append(value)
    return grouped


def _median(values):
    return round(median(values), 3) if values else None


def rating_agreement(conn: Connection, campaign_id: int) -> float | None:
    """Krippendorff's ordinal alpha over the campaign's 1..5 ratings (out-of-domain votes left out)."""
    query = (select(ratings.c.item_id, ratings.c.score)
             .select_from(ratings.join(campaign_items, campaign_items.c.id == ratings.c.item_id))
             .where(campaign_items.c.campaign_id == campaign_id, ratings.c.out_of_domain.is_(False)))
    units: dict[int, list[int]] = {}
    for item_id, score in conn.execute(query):
        units.setdefault(item_id, []).append(score)
    return ordinal_alpha(units)
