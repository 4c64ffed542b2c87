"""Web chat identity and history: a shared signing key, and the last turns of each web chat

``server_keys`` holds secrets generated once and shared by every process (the key that signs
web chat identities, unless the environment gives one). ``web_history`` keeps the last items
of each web chat so a reloaded page shows the conversation.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_keys")),
    )
    op.create_table(
        "web_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("item", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_history")),
    )
    with op.batch_alter_table("web_history") as batch:
        batch.create_index(batch.f("ix_web_history_external_id"), ["external_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("web_history") as batch:
        batch.drop_index(batch.f("ix_web_history_external_id"))
    op.drop_table("web_history")
    op.drop_table("server_keys")
