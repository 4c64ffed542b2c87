"""send_lanes as a schedule: the lane's next free send slot instead of a token bucket (issue 19)

Each send reserves the lane's next slot (``next_at`` moves on by one interval) and waits for
it, so a process that wakes late delays only its own send, not the lane's schedule. A pause
asked by a platform moves ``next_at`` to its end. The rows are pacing state only: the table is
made anew (downgrade brings back the empty token-bucket table).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.drop_table("send_lanes")
    op.create_table(
        "send_lanes",
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lane", name=op.f("pk_send_lanes")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("send_lanes")
    op.create_table(
        "send_lanes",
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("stamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("lane", name=op.f("pk_send_lanes")),
    )
