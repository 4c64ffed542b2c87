"""send_lanes: one token bucket per sending lane, shared by every bot process (issue 19)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "send_lanes",
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("stamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("lane", name=op.f("pk_send_lanes")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("send_lanes")
