"""The labelling service's tables: annotators, tokens, campaigns, items, ratings, dense masks, reviews.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annotators",
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('is_admin', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_annotators')),
        sa.UniqueConstraint('name', name=op.f('uq_annotators_name'))
    )
    op.create_table(
        "campaigns",
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('num_classes', sa.Integer(), nullable=False),
        sa.Column('class_names', sa.Text(), nullable=False),
        sa.Column('n4', sa.Integer(), nullable=True),
        sa.Column('test_size', sa.Integer(), nullable=True),
        sa.Column('seed', sa.Integer(), nullable=False),
        sa.Column('result', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    op.create_table(
        "api_tokens",
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('annotator_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['annotator_id'], ['annotators.id'], name=op.f('fk_api_tokens_annotator_id_annotators')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_index(op.f("ix_api_tokens_annotator_id"), "api_tokens", ["annotator_id"])
    op.create_table(
        "campaign_annotators",
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('annotator_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['annotator_id'], ['annotators.id'], name=op.f('fk_campaign_annotators_annotator_id_annotators')),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_annotators_campaign_id_campaigns')),
        sa.PrimaryKeyConstraint('campaign_id', 'annotator_id', name=op.f('pk_campaign_annotators'))
    )
    op.create_table(
        "campaign_items",
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('image_id', sa.String(length=128), nullable=False),
        sa.Column('image_key', sa.String(length=512), nullable=False),
        sa.Column('prediction_key', sa.String(length=512), nullable=True),
        sa.Column('prediction_keys', sa.Text(), nullable=True),
        sa.Column('assigned_to', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['assigned_to'], ['annotators.id'], name=op.f('fk_campaign_items_assigned_to_annotators')),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_items_campaign_id_campaigns')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_items')),
        sa.UniqueConstraint('campaign_id', 'image_id', name=op.f('uq_campaign_items_campaign_id'))
    )
    op.create_table(
        "dense_masks",
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('annotator_id', sa.Integer(), nullable=False),
        sa.Column('mask_key', sa.String(length=512), nullable=False),
        sa.Column('started_from', sa.String(length=128), nullable=True),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['annotator_id'], ['annotators.id'], name=op.f('fk_dense_masks_annotator_id_annotators')),
        sa.ForeignKeyConstraint(['item_id'], ['campaign_items.id'], name=op.f('fk_dense_masks_item_id_campaign_items')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dense_masks')),
        sa.UniqueConstraint('item_id', name=op.f('uq_dense_masks_item_id'))
    )
    op.create_table(
        "ratings",
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('annotator_id', sa.Integer(), nullable=False),
        sa.Column('score', sa.Integer(), nullable=True),
        sa.Column('out_of_domain', sa.Boolean(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('rated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['annotator_id'], ['annotators.id'], name=op.f('fk_ratings_annotator_id_annotators')),
        sa.ForeignKeyConstraint(['item_id'], ['campaign_items.id'], name=op.f('fk_ratings_item_id_campaign_items')),
        sa.PrimaryKeyConstraint('item_id', 'annotator_id', name=op.f('pk_ratings'))
    )
    op.create_index(op.f("ix_ratings_annotator_id"), "ratings", ["annotator_id"])
    op.create_table(
        "mask_reviews",
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('mask_id', sa.Integer(), nullable=False),
        sa.Column('reviewer_id', sa.Integer(), nullable=False),
        sa.Column('decision', sa.String(length=8), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['mask_id'], ['dense_masks.id'], name=op.f('fk_mask_reviews_mask_id_dense_masks')),
        sa.ForeignKeyConstraint(['reviewer_id'], ['annotators.id'], name=op.f('fk_mask_reviews_reviewer_id_annotators')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mask_reviews'))
    )
    op.create_index(op.f("ix_mask_reviews_mask_id"), "mask_reviews", ["mask_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_mask_reviews_mask_id"), table_name="mask_reviews")
    op.drop_table("mask_reviews")
    op.drop_index(op.f("ix_ratings_annotator_id"), table_name="ratings")
    op.drop_table("ratings")
    op.drop_table("dense_masks")
    op.drop_table("campaign_items")
    op.drop_table("campaign_annotators")
    op.drop_index(op.f("ix_api_tokens_annotator_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("campaigns")
    op.drop_table("annotators")
