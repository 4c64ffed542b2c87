"""lessons: lesson progress, quiz answers and completions (issue 4)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision (filled in by the feature that owns it)."""


def downgrade() -> None:
    """Revert this revision."""
