"""teams.phone, teams.place, teams.hours: how citizens reach their team (issue 17 item 11)

The team's phone or Zalo number, where it meets and when; shown by "Liên hệ tổ" and on the QR
poster, set with ``trolyso team contact`` or by the team's lead in the chat. All optional.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("place", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("hours", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("hours")
        batch.drop_column("place")
        batch.drop_column("phone")
