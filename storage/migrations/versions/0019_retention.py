"""Retention: a broadcast keeps the counts of the deliveries housekeeping pruned (issue 19)

``broadcasts.archived`` (JSON, ``{"state:reason": n}``): finished deliveries older than
``retention.delivery_days`` are deleted in batches, their counts added here first, so a
broadcast's report is the same before and after.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("broadcasts") as batch_op:
        batch_op.add_column(sa.Column("archived", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("broadcasts") as batch_op:
        batch_op.drop_column("archived")
