"""team_memberships.household: an optional household label a team member records for a citizen
(issue 21 item 2)

A short name of the household within the village ("Nhà bác Tư", "Hộ 12"), never an address or
ID number; the commune report counts households with at least one member who reached the five
basic skills. It goes with the membership: deleted with the citizen's data, cleared when they
move to another team.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("team_memberships") as batch:
        batch.add_column(sa.Column("household", sa.String(length=40), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("team_memberships") as batch:
        batch.drop_column("household")
