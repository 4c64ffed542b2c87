"""citizen_notes, followup_threads, followup_messages: notes and two-way follow-up (issue 17)

A team's short note on a citizen (item 5), and the threads in which a citizen answers the
member who answered them, or a member writes first from "Ai cần giúp" (item 12).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "citizen_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("written_by", sa.Integer(), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        _fk("citizen_notes", "user_id", "users", "CASCADE"),
        _fk("citizen_notes", "team_id", "teams", "CASCADE"),
        _fk("citizen_notes", "written_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_notes")),
        sa.UniqueConstraint("user_id", "team_id", name=op.f("uq_citizen_notes_user_id")),
    )
    with op.batch_alter_table("citizen_notes") as batch:
        batch.create_index(batch.f("ix_citizen_notes_team_id"), ["team_id"], unique=False)
    op.create_table(
        "followup_threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("followup_threads", "team_id", "teams", "CASCADE"),
        _fk("followup_threads", "citizen_id", "users", "CASCADE"),
        _fk("followup_threads", "member_id", "users", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["team_questions.id"],
            name=op.f("fk_followup_threads_question_id_team_questions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_threads")),
    )
    with op.batch_alter_table("followup_threads") as batch:
        batch.create_index(batch.f("ix_followup_threads_citizen_id"), ["citizen_id"], unique=False)
        batch.create_index(
            batch.f("ix_followup_threads_question_id"), ["question_id"], unique=False
        )
    op.create_table(
        "followup_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("from_citizen", sa.Boolean(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["followup_threads.id"],
            name=op.f("fk_followup_messages_thread_id_followup_threads"),
            ondelete="CASCADE",
        ),
        _fk("followup_messages", "author_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_messages")),
    )
    with op.batch_alter_table("followup_messages") as batch:
        batch.create_index(batch.f("ix_followup_messages_thread_id"), ["thread_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("followup_messages")
    op.drop_table("followup_threads")
    op.drop_table("citizen_notes")
