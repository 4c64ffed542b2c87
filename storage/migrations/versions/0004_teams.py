"""teams: teams, roles, team questions (issue 7)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision (filled in by the feature that owns it)."""


def downgrade() -> None:
    """Revert this revision."""
