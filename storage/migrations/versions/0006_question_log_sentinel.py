"""question_log: an insert sentinel column, so a batch of questions is one INSERT on SQLite

SQLite cannot return new ids in the order rows were given; with a client-side sentinel
column SQLAlchemy can, and writes the questions of a batch of turns with one statement
instead of one per question.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("question_log") as batch:
        batch.add_column(sa.Column("_sentinel", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("question_log") as batch:
        batch.drop_column("_sentinel")
