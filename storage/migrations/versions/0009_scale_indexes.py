"""Indexes for a million citizens: work index on unfinished deliveries only, newest attempt per
citizen and skill in one probe, staff found by role (issue 19)

- ``ix_broadcast_deliveries_work``: (channel, next_attempt_at, id) of ``pending`` rows only; the
  finished rows, nearly all of the table, are no longer in it. ``ix_broadcast_deliveries_held``:
  the rows a worker holds (``claimed``/``sending``), for lease renewal, release and recovery.
- ``ix_lesson_attempts_user_skill`` gains ``id``: "is there a newer attempt" is an index probe.
- ``ix_users_role``: the few members, leads and admins without scanning every citizen.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

PENDING = sa.text("state = 'pending'")
HELD = sa.text("state IN ('claimed', 'sending')")


def upgrade() -> None:
    """Apply this revision."""
    op.drop_index("ix_broadcast_deliveries_work", table_name="broadcast_deliveries")
    op.create_index(
        "ix_broadcast_deliveries_work",
        "broadcast_deliveries",
        ["channel", "next_attempt_at", "id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        "ix_broadcast_deliveries_held",
        "broadcast_deliveries",
        ["claimed_by", "claimed_at"],
        postgresql_where=HELD,
        sqlite_where=HELD,
    )
    op.drop_index("ix_lesson_attempts_user_skill", table_name="lesson_attempts")
    op.create_index(
        "ix_lesson_attempts_user_skill", "lesson_attempts", ["user_id", "skill_id", "id"]
    )
    op.create_index("ix_users_role", "users", ["role"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_users_role", table_name="users")
    op.drop_index("ix_lesson_attempts_user_skill", table_name="lesson_attempts")
    op.create_index("ix_lesson_attempts_user_skill", "lesson_attempts", ["user_id", "skill_id"])
    op.drop_index("ix_broadcast_deliveries_held", table_name="broadcast_deliveries")
    op.drop_index("ix_broadcast_deliveries_work", table_name="broadcast_deliveries")
    op.create_index(
        "ix_broadcast_deliveries_work",
        "broadcast_deliveries",
        ["state", "channel", "next_attempt_at"],
    )
