"""The web dashboard's sign-in: one-time links, sessions and redemption attempts

Only hashes of the link and session tokens are stored. A new role ``commune`` needs no schema
change (``users.role`` is a string).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "dashboard_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_dashboard_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_dashboard_links")),
    )
    with op.batch_alter_table("dashboard_links") as batch:
        batch.create_index(batch.f("ix_dashboard_links_user_id"), ["user_id"], unique=False)
    op.create_table(
        "dashboard_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_dashboard_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_dashboard_sessions")),
    )
    with op.batch_alter_table("dashboard_sessions") as batch:
        batch.create_index(batch.f("ix_dashboard_sessions_user_id"), ["user_id"], unique=False)
        batch.create_index(
            batch.f("ix_dashboard_sessions_expires_at"), ["expires_at"], unique=False
        )
    op.create_table(
        "dashboard_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_attempts")),
    )
    with op.batch_alter_table("dashboard_attempts") as batch:
        batch.create_index(batch.f("ix_dashboard_attempts_client"), ["client"], unique=False)
        batch.create_index(batch.f("ix_dashboard_attempts_at"), ["at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("dashboard_attempts")
    op.drop_table("dashboard_sessions")
    op.drop_table("dashboard_links")
