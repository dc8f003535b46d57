"""Revocable sessions and tokens, disabled accounts, sign-in throttling.

annotators.disabled and .session_generation; api_tokens.expires_at and .revoked_at (existing tokens
keep working: NULL means no expiry); the login_failures table.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults fill the rows already there (existing accounts enabled, in generation 0).
    op.add_column("annotators", sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("annotators", sa.Column("session_generation", sa.Integer(), server_default=sa.text("0"),
                                          nullable=False))
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_tokens", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_key_failed_at", "login_failures", ["key", "failed_at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_key_failed_at", table_name="login_failures")
    op.drop_table("login_failures")
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): rebuilding annotators in a batch would break
    # the foreign keys that point at it.
    op.drop_column("api_tokens", "revoked_at")
    op.drop_column("api_tokens", "expires_at")
    op.drop_column("annotators", "session_generation")
    op.drop_column("annotators", "disabled")
