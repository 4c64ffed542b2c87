"""nudges, nudge_prefs, review_answers: gentle reminders and spaced review (issue 20 items 3-4)

A reminder to finish a lesson left unfinished, and review questions some days after a safety
skill was passed, each one row (unique per citizen, kind, skill and step) sent by the nudge
worker exactly once; "tắt nhắc" preferences; the answers to review questions. Deleted with the
user (``ON DELETE CASCADE``).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "nudges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("skill_id", sa.String(length=64), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk("nudges"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nudges")),
        sa.UniqueConstraint("user_id", "kind", "skill_id", "step", name=op.f("uq_nudges_user_id")),
    )
    op.create_index(
        "ix_nudges_due",
        "nudges",
        ["due_at", "id"],
        postgresql_where=sa.text("state = 'pending'"),
        sqlite_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_nudges_held",
        "nudges",
        ["claimed_by", "claimed_at"],
        postgresql_where=sa.text("state IN ('claimed', 'sending')"),
        sqlite_where=sa.text("state IN ('claimed', 'sending')"),
    )
    op.create_index(
        "ix_nudges_window",
        "nudges",
        ["user_id"],
        postgresql_where=sa.text("state = 'window'"),
        sqlite_where=sa.text("state = 'window'"),
    )
    op.create_table(
        "nudge_prefs",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("off_at", sa.DateTime(timezone=True), nullable=False),
        _user_fk("nudge_prefs"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_nudge_prefs")),
    )
    op.create_table(
        "review_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nudge_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.String(length=64), nullable=False),
        sa.Column("question_id", sa.String(length=40), nullable=False),
        sa.Column("choice", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["nudge_id"],
            ["nudges.id"],
            name=op.f("fk_review_answers_nudge_id_nudges"),
            ondelete="CASCADE",
        ),
        _user_fk("review_answers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_answers")),
        sa.UniqueConstraint("nudge_id", "question_id", name=op.f("uq_review_answers_nudge_id")),
    )
    op.create_index(op.f("ix_review_answers_user_id"), "review_answers", ["user_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("review_answers")
    op.drop_table("nudge_prefs")
    op.drop_index("ix_nudges_window", table_name="nudges")
    op.drop_index("ix_nudges_held", table_name="nudges")
    op.drop_index("ix_nudges_due", table_name="nudges")
    op.drop_table("nudges")
