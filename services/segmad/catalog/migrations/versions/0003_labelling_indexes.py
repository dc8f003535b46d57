"""Indexes for the labelling hot paths: items by (campaign, position), ratings by (annotator, item).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_campaign_items_campaign_id_position", "campaign_items", ["campaign_id", "position"])
    # The composite index serves every lookup the single-column one did.
    op.drop_index("ix_ratings_annotator_id", table_name="ratings")
    op.create_index("ix_ratings_annotator_id_item_id", "ratings", ["annotator_id", "item_id"])


def downgrade() -> None:
    op.drop_index("ix_ratings_annotator_id_item_id", table_name="ratings")
    op.create_index("ix_ratings_annotator_id", "ratings", ["annotator_id"])
    op.drop_index("ix_campaign_items_campaign_id_position", table_name="campaign_items")
