"""SQL tables of the labelling service (annotators, campaigns, ratings, dense masks, reviews)."""

from sqlalchemy import (
    Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, false, text,
)

from segmad.catalog.schema import UtcDateTime, metadata

annotators = Table(
    "annotators", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
    # Each signed-in session carries the generation it began in; bumping it (logout, new password,
    # disabling) ends every session of the account at once, across all worker processes.
    Column("session_generation", Integer, nullable=False, default=0, server_default=text("0")),
)

# Only a hash of each bearer token is kept, so a leaked table grants nothing.
api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("annotator_id", Integer, ForeignKey("annotators.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", UtcDateTime),  # NULL: never expires
    Column("revoked_at", UtcDateTime),
)

# Failed sign-ins by account name and by client address, so throttling holds across worker processes.
login_failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(128), nullable=False),  # "name:<name>" or "addr:<address>"
    Column("failed_at", UtcDateTime, nullable=False),
    Index("ix_login_failures_key_failed_at", "key", "failed_at"),
)

campaigns = Table(
    "campaigns", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),  # "weak" (ratings of M) or "dense" (masks of S ∪ T)
    Column("round", Integer, nullable=False),
    Column("status", String(8), nullable=False, default="open"),  # "open" | "closed"
    Column("num_classes", Integer, nullable=False),
    Column("class_names", Text, nullable=False),  # JSON list of the C foreground names
    Column("n4", Integer),
    Column("test_size", Integer),
    Column("seed", Integer, nullable=False, default=0),
    Column("result", Text),  # JSON written when a weak campaign closes: mos, S, T, out_of_domain
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
)

campaign_annotators = Table(
    "campaign_annotators", metadata,
    Column("campaign_id", Integer, ForeignKey("campaigns.id"), primary_key=True),
    Column("annotator_id", Integer, ForeignKey("annotators.id"), primary_key=True),
)

campaign_items = Table(
    "campaign_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("image_id", String(128), nullable=False),
    Column("image_key", String(512), nullable=False),
    Column("prediction_key", String(512)),  # weak: the target's label map
    Column("prediction_keys", Text),  # dense: JSON {model name: label-map key}
    Column("assigned_to", Integer, ForeignKey("annotators.id")),  # dense: who paints it
    UniqueConstraint("campaign_id", "image_id"),
    # "Next item" walks a campaign in position order and stops at the first unrated ones.
    Index("ix_campaign_items_campaign_id_position", "campaign_id", "position"),
)

ratings = Table(
    "ratings", metadata,
    Column("item_id", Integer, ForeignKey("campaign_items.id"), primary_key=True),
    Column("annotator_id", Integer, ForeignKey("annotators.id"), primary_key=True),
    Column("score", Integer),  # 1..5; NULL when out_of_domain
    Column("out_of_domain", Boolean, nullable=False, default=False),
    Column("seconds", Float, nullable=False),
    Column("rated_at", DateTime(timezone=True), nullable=False),
    # One annotator's votes, probed by item: keeps "next item" and progress cheap whatever plan
    # the database picks on fresh, unanalysed tables (PostgreSQL otherwise rescans them per item).
    Index("ix_ratings_annotator_id_item_id", "annotator_id", "item_id"),
)

dense_masks = Table(
    "dense_masks", metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("campaign_items.id"), nullable=False, unique=True),
    Column("annotator_id", Integer, ForeignKey("annotators.id"), nullable=False),
    Column("mask_key", String(512), nullable=False),
    Column("started_from", String(128)),  # the model whose prediction pre-filled the editor
    Column("seconds", Float, nullable=False),
    Column("status", String(10), nullable=False),  # "submitted" | "accepted" | "returned"
    Column("saved_at", DateTime(timezone=True), nullable=False),
)

mask_reviews = Table(
    "mask_reviews", metadata,
    Column("id", Integer, primary_key=True),
    Column("mask_id", Integer, ForeignKey("dense_masks.id"), nullable=False, index=True),
    Column("reviewer_id", Integer, ForeignKey("annotators.id"), nullable=False),
    Column("decision", String(8), nullable=False),  # "accept" | "return"
    Column("comment", Text, nullable=False, default=""),
    Column("reviewed_at", DateTime(timezone=True), nullable=False),
)
