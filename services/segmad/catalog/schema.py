"""The one SQLAlchemy Core schema of the catalog; Alembic migrations are made from it.

Every service's tables hang off this `metadata`; a package with tables of its own (e.g.
labelling) defines them in its own module on this same object.
"""

from datetime import datetime, timezone

from sqlalchemy import (
    JSON, CheckConstraint, Column, DateTime, Double, ForeignKey, ForeignKeyConstraint, Integer, MetaData,
    String, Table, Text, TypeDecorator,
)

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("catalog timestamps must be timezone-aware")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# The pool D: every accepted image once, content-addressed.
images = Table(
    "images", metadata,
    Column("image_id", String(128), primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("source", Text, nullable=False),  # where it came from: a path, a URL, an S3 key
    Column("blob_key", String(512), nullable=False),
    Column("ingested_at", UtcDateTime, nullable=False),
)

# Sources ingestion refused (not an image, too small, unreadable), with the latest reason.
rejections = Table(
    "rejections", metadata,
    Column("source", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

# Pool images no model can predict (their stored image is gone or unreadable), with the reason:
# left out of every round's pool, so one bad image cannot stall mining.
unusable_images = Table(
    "unusable_images", metadata,
    Column("image_id", String(128), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

model_versions = Table(
    "model_versions", metadata,
    Column("name", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("arch", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("blob_key", String(512), nullable=False),  # the checkpoint
    Column("parent_version", String(64)),  # the version this one was fine-tuned from
    Column("trained_on_round", Integer),  # the round whose S it was fine-tuned on
    Column("metrics", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("role IN ('target', 'competitor')", name="role"),
)

# Which version of each model name serves by default (as TorchServe's set-default).
default_versions = Table(
    "default_versions", metadata,
    Column("name", String(128), primary_key=True),
    Column("version", String(64), nullable=False),
    ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
)

predictions = Table(
    "predictions", metadata,
    Column("image_id", String(128), ForeignKey("images.image_id"), primary_key=True),
    Column("model", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("blob_key", String(512), nullable=False),  # the label map (PNG)
    Column("fractions", JSON, nullable=False),  # pixel fraction of each label 0..C
    Column("entropy", Double),  # mean per-pixel softmax entropy, where the model reported it
    ForeignKeyConstraint(["model", "version"], ["model_versions.name", "model_versions.version"]),
)

rounds = Table(
    "rounds", metadata,
    Column("round", Integer, primary_key=True),
    Column("state", String(32), nullable=False),
    Column("target", String(128), nullable=False),
    Column("target_version", String(64), nullable=False),  # f_t^(i), the version being troubleshot
    Column("n3", Integer, nullable=False),
    Column("n4", Integer, nullable=False),
    Column("settings", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["target", "target_version"], ["model_versions.name", "model_versions.version"]),
)

# The top-n3 heap of each (competitor j, class k, partition m) of a round (DESIGN §2).
heap_members = Table(
    "heap_members", metadata,
    Column("round", Integer, ForeignKey("rounds.round"), primary_key=True),
    Column("competitor", String(128), primary_key=True),
    Column("class_id", Integer, primary_key=True),
    Column("partition", String(16), primary_key=True),
    Column("image_id", String(128), ForeignKey("images.image_id"), primary_key=True),
    Column("distance", Double, nullable=False),
    CheckConstraint("partition IN ('target', 'competitor')", name="partition"),
)

ROUND_IMAGE_KINDS = ("candidates", "counterexamples", "test", "entropy", "random")

# The image sets of a round: M, S, T and the baselines' picks.
round_images = Table(
    "round_images", metadata,
    Column("round", Integer, ForeignKey("rounds.round"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("image_id", String(128), ForeignKey("images.image_id"), primary_key=True),
    CheckConstraint(f"kind IN {ROUND_IMAGE_KINDS}", name="kind"),
)

evaluations = Table(
    "evaluations", metadata,
    Column("round", Integer, ForeignKey("rounds.round"), primary_key=True),
    Column("model", String(128), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("split", String(32), primary_key=True),  # e.g. "T0", "T1", "W"
    Column("miou", Double, nullable=False),
    Column("per_class", JSON, nullable=False),  # IoU per label, null where the label never occurs
    ForeignKeyConstraint(["model", "version"], ["model_versions.name", "model_versions.version"]),
)
