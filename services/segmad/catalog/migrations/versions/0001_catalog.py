"""The catalog: images, rejections, model versions, predictions, rounds, heaps, round images, evaluations.

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column('image_id', sa.String(length=128), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('blob_key', sa.String(length=512), nullable=False),
        sa.Column('ingested_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('image_id', name=op.f('pk_images')),
        sa.UniqueConstraint('sha256', name=op.f('uq_images_sha256'))
    )
    op.create_table(
        "model_versions",
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('arch', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('blob_key', sa.String(length=512), nullable=False),
        sa.Column('parent_version', sa.String(length=64), nullable=True),
        sa.Column('trained_on_round', sa.Integer(), nullable=True),
        sa.Column('metrics', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('target', 'competitor')", name=op.f('ck_model_versions_role')),
        sa.PrimaryKeyConstraint('name', 'version', name=op.f('pk_model_versions'))
    )
    op.create_table(
        "rejections",
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('source', name=op.f('pk_rejections'))
    )
    op.create_table(
        "default_versions",
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['name', 'version'], ['model_versions.name', 'model_versions.version'], name=op.f('fk_default_versions_name_model_versions')),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_default_versions'))
    )
    op.create_table(
        "predictions",
        sa.Column('image_id', sa.String(length=128), nullable=False),
        sa.Column('model', sa.String(length=128), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('blob_key', sa.String(length=512), nullable=False),
        sa.Column('fractions', sa.JSON(), nullable=False),
        sa.Column('entropy', sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(['image_id'], ['images.image_id'], name=op.f('fk_predictions_image_id_images')),
        sa.ForeignKeyConstraint(['model', 'version'], ['model_versions.name', 'model_versions.version'], name=op.f('fk_predictions_model_model_versions')),
        sa.PrimaryKeyConstraint('image_id', 'model', 'version', name=op.f('pk_predictions'))
    )
    op.create_table(
        "rounds",
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('target', sa.String(length=128), nullable=False),
        sa.Column('target_version', sa.String(length=64), nullable=False),
        sa.Column('n3', sa.Integer(), nullable=False),
        sa.Column('n4', sa.Integer(), nullable=False),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['target', 'target_version'], ['model_versions.name', 'model_versions.version'], name=op.f('fk_rounds_target_model_versions')),
        sa.PrimaryKeyConstraint('round', name=op.f('pk_rounds'))
    )
    op.create_table(
        "evaluations",
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('model', sa.String(length=128), nullable=False),
        sa.Column('version', sa.String(length=64), nullable=False),
        sa.Column('split', sa.String(length=32), nullable=False),
        sa.Column('miou', sa.Double(), nullable=False),
        sa.Column('per_class', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['model', 'version'], ['model_versions.name', 'model_versions.version'], name=op.f('fk_evaluations_model_model_versions')),
        sa.ForeignKeyConstraint(['round'], ['rounds.round'], name=op.f('fk_evaluations_round_rounds')),
        sa.PrimaryKeyConstraint('round', 'model', 'version', 'split', name=op.f('pk_evaluations'))
    )
    op.create_table(
        "heap_members",
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('competitor', sa.String(length=128), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('partition', sa.String(length=16), nullable=False),
        sa.Column('image_id', sa.String(length=128), nullable=False),
        sa.Column('distance', sa.Double(), nullable=False),
        sa.CheckConstraint("partition IN ('target', 'competitor')", name=op.f('ck_heap_members_partition')),
        sa.ForeignKeyConstraint(['image_id'], ['images.image_id'], name=op.f('fk_heap_members_image_id_images')),
        sa.ForeignKeyConstraint(['round'], ['rounds.round'], name=op.f('fk_heap_members_round_rounds')),
        sa.PrimaryKeyConstraint('round', 'competitor', 'class_id', 'partition', 'image_id', name=op.f('pk_heap_members'))
    )
    op.create_table(
        "round_images",
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('image_id', sa.String(length=128), nullable=False),
        sa.CheckConstraint("kind IN ('candidates', 'counterexamples', 'test', 'entropy', 'random')", name=op.f('ck_round_images_kind')),
        sa.ForeignKeyConstraint(['image_id'], ['images.image_id'], name=op.f('fk_round_images_image_id_images')),
        sa.ForeignKeyConstraint(['round'], ['rounds.round'], name=op.f('fk_round_images_round_rounds')),
        sa.PrimaryKeyConstraint('round', 'kind', 'image_id', name=op.f('pk_round_images'))
    )


def downgrade() -> None:
    op.drop_table("round_images")
    op.drop_table("heap_members")
    op.drop_table("evaluations")
    op.drop_table("rounds")
    op.drop_table("predictions")
    op.drop_table("default_versions")
    op.drop_table("rejections")
    op.drop_table("model_versions")
    op.drop_table("images")
