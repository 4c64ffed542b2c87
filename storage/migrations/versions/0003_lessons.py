"""lessons: lesson progress, quiz answers and completions (issue 4)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "lesson_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step_id", sa.String(length=40), nullable=True),
        sa.Column("question_id", sa.String(length=40), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("quiz_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("correct", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_lesson_attempts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_attempts")),
    )
    with op.batch_alter_table("lesson_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lesson_attempts_skill_id"), ["skill_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lesson_attempts_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_lesson_attempts_updated_at"), ["updated_at"], unique=False
        )
        batch_op.create_index(
            "ix_lesson_attempts_user_skill", ["user_id", "skill_id"], unique=False
        )

    op.create_table(
        "lesson_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.String(length=64), nullable=False),
        sa.Column("step_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["lesson_attempts.id"],
            name=op.f("fk_lesson_steps_attempt_id_lesson_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_lesson_steps_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_steps")),
        sa.UniqueConstraint("attempt_id", "step_id", name=op.f("uq_lesson_steps_attempt_id")),
    )
    with op.batch_alter_table("lesson_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lesson_steps_attempt_id"), ["attempt_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_lesson_steps_user_id"), ["user_id"], unique=False)

    op.create_table(
        "quiz_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.String(length=64), nullable=False),
        sa.Column("question_id", sa.String(length=40), nullable=False),
        sa.Column("choice", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["lesson_attempts.id"],
            name=op.f("fk_quiz_answers_attempt_id_lesson_attempts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_quiz_answers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_answers")),
        sa.UniqueConstraint("attempt_id", "question_id", name=op.f("uq_quiz_answers_attempt_id")),
    )
    with op.batch_alter_table("quiz_answers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quiz_answers_attempt_id"), ["attempt_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quiz_answers_user_id"), ["user_id"], unique=False)

    op.create_table(
        "skill_completions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("best_score", sa.Float(), nullable=False),
        sa.Column("best_attempt_id", sa.Integer(), nullable=True),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("first_passed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_passed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["best_attempt_id"],
            ["lesson_attempts.id"],
            name=op.f("fk_skill_completions_best_attempt_id_lesson_attempts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_skill_completions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skill_completions")),
        sa.UniqueConstraint("user_id", "skill_id", name=op.f("uq_skill_completions_user_id")),
    )
    with op.batch_alter_table("skill_completions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_skill_completions_first_passed_at"), ["first_passed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_skill_completions_skill_id"), ["skill_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_skill_completions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("skill_completions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skill_completions_user_id"))
        batch_op.drop_index(batch_op.f("ix_skill_completions_skill_id"))
        batch_op.drop_index(batch_op.f("ix_skill_completions_first_passed_at"))
    op.drop_table("skill_completions")

    with op.batch_alter_table("quiz_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quiz_answers_user_id"))
        batch_op.drop_index(batch_op.f("ix_quiz_answers_attempt_id"))
    op.drop_table("quiz_answers")

    with op.batch_alter_table("lesson_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lesson_steps_user_id"))
        batch_op.drop_index(batch_op.f("ix_lesson_steps_attempt_id"))
    op.drop_table("lesson_steps")

    with op.batch_alter_table("lesson_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_lesson_attempts_user_skill")
        batch_op.drop_index(batch_op.f("ix_lesson_attempts_updated_at"))
        batch_op.drop_index(batch_op.f("ix_lesson_attempts_status"))
        batch_op.drop_index(batch_op.f("ix_lesson_attempts_skill_id"))
    op.drop_table("lesson_attempts")
