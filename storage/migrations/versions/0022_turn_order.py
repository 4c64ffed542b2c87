"""turn_order: a chat turn's place in its citizen's queue, in seen_events (issue 19)

Several processes behind a load balancer may each receive a turn of the same citizen. Besides
the platform's event id (dedupe), a turn's row now keeps the citizen (``address``), the
platform's order (``seq``), the event itself (``event``, cleared once handled) and when it was
handled (``handled_at``), so that the process holding the citizen's turn handles every pending
one, oldest first (``bot.core.dispatcher``). Only pending rows are indexed.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

PENDING = sa.text("handled_at IS NULL AND address IS NOT NULL")


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("seen_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("event", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_seen_events_pending",
        "seen_events",
        ["channel", "address"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_seen_events_pending", table_name="seen_events")
    with op.batch_alter_table("seen_events", schema=None) as batch_op:
        batch_op.drop_column("handled_at")
        batch_op.drop_column("event")
        batch_op.drop_column("seq")
        batch_op.drop_column("address")
