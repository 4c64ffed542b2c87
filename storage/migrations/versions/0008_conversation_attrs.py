"""conversation_state.attrs: what outlives a flow (a join code sent before consent)

Flow data is erased whenever a flow starts or ends; a join code kept there until the citizen
agreed to the privacy notice was lost by any flow in between.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("conversation_state") as batch:
        batch.add_column(sa.Column("attrs", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("conversation_state") as batch:
        batch.drop_column("attrs")
