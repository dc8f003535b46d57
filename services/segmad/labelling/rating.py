"""Weak rating: an annotator's queue over M and their ACR votes (changeable until the campaign closes)."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from segmad.labelling.accounts import now
from segmad.labelling.campaigns import get_item, require_open
from segmad.labelling.errors import Invalid
from segmad.labelling.tables import campaign_items, ratings
from segmad.mad.weak import ACR_SCALE, OUT_OF_DOMAIN, check_rating

MAX_SECONDS = 24 * 3600.0


def parse_rating(value) -> float:
    """A vote from the API: 1..5, or "ood" for out-of-domain; Invalid otherwise."""
    if value == "ood":
        return OUT_OF_DOMAIN
    # Only "ood" is a veto: a number is one of the scale's, never check_rating's OUT_OF_DOMAIN
    # (+inf, which JSON's 1e309 or Infinity would give).
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in ACR_SCALE:
        raise Invalid('a rating is an integer 1..5 or "ood"')
    return check_rating(value)


def parse_seconds(value) -> float:
    """Seconds spent, a finite number in [0, one day]; Invalid otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid("seconds must be a number")
    # Compared as sent (NaN fails it too): JSON's integers may be beyond a float's range.
    if not 0 <= value <= MAX_SECONDS:
        raise Invalid("seconds must be between 0 and 86400")
    return float(value)


def item_json(item, score=None) -> dict:
    """An item of a weak campaign as the rating page needs it."""
    base = f"/api/campaigns/{item.campaign_id}/items/{item.id}"
    return {"id": item.id, "image_id": item.image_id, "position": item.position,
            "image_url": base + "/image", "prediction_url": base + "/overlay", "rating": score}


# The hot path's statements are built once: a request then skips building and hashing them.
# NOT IN (a hashed subquery) rather than an anti-join: on tables without statistics yet (a new
# campaign) PostgreSQL plans the anti-join as a nested loop that rescans every vote per item.
_NEXT_UNRATED = (
    select(campaign_items)
    .where(campaign_items.c.campaign_id == bindparam("campaign_id"),
           campaign_items.c.id.not_in(select(ratings.c.item_id)
                                      .where(ratings.c.annotator_id == bindparam("annotator_id"))))
    .order_by(campaign_items.c.position).limit(bindparam("count"))
)
_PROGRESS = select(
    select(func.count()).select_from(ratings.join(campaign_items))
    .where(campaign_items.c.campaign_id == bindparam("campaign_id"),
           ratings.c.annotator_id == bindparam("annotator_id")).scalar_subquery().label("rated"),
    select(func.count()).where(campaign_items.c.campaign_id == bindparam("campaign_id"))
    .scalar_subquery().label("total"),
)


def _upsert(insert):
    statement = insert(ratings)
    return statement.on_conflict_do_update(
        index_elements=["item_id", "annotator_id"],
        set_={name: statement.excluded[name] for name in ("score", "out_of_domain", "seconds", "rated_at")})


# One upsert: a single round trip, and two quick clicks on the same item cannot both insert.
_UPSERT_RATING = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}


def next_items(conn: Connection, campaign_id: int, annotator_id: int, count: int = 2) -> list[dict]:
    """The annotator's next `count` unrated items in order (the second one is for preloading)."""
    rows = conn.execute(_NEXT_UNRATED, {"campaign_id": campaign_id, "annotator_id": annotator_id, "count": count})
    return [item_json(row) for row in rows]


def progress(conn: Connection, campaign_id: int, annotator_id: int) -> dict:
    """How many of the campaign's items the annotator has rated."""
    row = conn.execute(_PROGRESS, {"campaign_id": campaign_id, "annotator_id": annotator_id}).one()
    return {"rated": row.rated, "total": row.total}


def rated_item(conn: Connection, campaign_id: int, item_id: int, annotator_id: int) -> dict:
    """One item with the annotator's own vote on it (None if unrated), to go back and change it."""
    item = get_item(conn, campaign_id, item_id)
    row = conn.execute(select(ratings).where(
        ratings.c.item_id == item_id, ratings.c.annotator_id == annotator_id)).first()
    score = None if row is None else ("ood" if row.out_of_domain else row.score)
    return item_json(item, score)


def submit_rating(conn: Connection, campaign, item_id: int, annotator_id: int, value, seconds) -> None:
    """Record (or change) the annotator's vote on an item of an open weak campaign."""
    require_open(campaign)
    if campaign.kind != "weak":
        raise Invalid("this campaign takes masks, not ratings")
    get_item(conn, campaign.id, item_id)
    vote = parse_rating(value)
    ood = vote == OUT_OF_DOMAIN
    values = {"score": None if ood else int(vote), "out_of_domain": ood,
              "seconds": parse_seconds(seconds), "rated_at": now()}
    conn.execute(_UPSERT_RATING[conn.dialect.name], {"item_id": item_id, "annotator_id": annotator_id, **values})
