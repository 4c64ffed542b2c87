"""Lesson records: attempts, steps reached, quiz answers and one completion per citizen and skill.

Made to be read by team reports as well as by the lesson flow:
- ``lesson_attempts``: one row per time a citizen starts a lesson (or retakes its quiz), with
  ``started_at``/``updated_at``/``finished_at``, where they are, the result and ``passed``.
  "Stuck" citizens are attempts with ``finished_at IS NULL`` and an old ``updated_at``, or
  failed attempts with no completion.
- ``lesson_steps``: each step reached, once per attempt.
- ``quiz_answers``: each answer given, once per attempt and question.
- ``skill_completions``: one row per citizen and skill once passed, with the best score.
Every row carries the channel it came from (a person on Zalo and on Telegram is two users).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

# Attempt status: reading steps, taking the quiz, passed, failed, or replaced by a newer attempt.
READING = "reading"
QUIZ = "quiz"
PASSED = "passed"
FAILED = "failed"
ABANDONED = "abandoned"
OPEN_STATUSES = (READING, QUIZ)


class LessonAttempt(Base):
    """One go at a skill: from its first step (or straight to the quiz on a retry) to a result."""

    __tablename__ = "lesson_attempts"
    # "Newest attempt of a citizen at a skill" is one probe of this index (see LessonRepo.stuck).
    __table_args__ = (Index("ix_lesson_attempts_user_skill", "user_id", "skill_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    skill_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(Integer, default=1)  # 1st, 2nd... attempt at this skill
    status: Mapped[str] = mapped_column(String(16), default=READING, index=True)
    step_id: Mapped[str | None] = mapped_column(String(40))  # the last step reached
    question_id: Mapped[str | None] = mapped_column(String(40))  # the question being asked
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    quiz_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last "dừng"
    correct: Mapped[int | None] = mapped_column(Integer)
    total: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)


class LessonStep(Base):
    """A step a citizen reached in an attempt (recorded once, when first shown)."""

    __tablename__ = "lesson_steps"
    __table_args__ = (UniqueConstraint("attempt_id", "step_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_attempts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    skill_id: Mapped[str] = mapped_column(String(64))
    step_id: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer)  # 1-based, in the content of that moment
    channel: Mapped[str] = mapped_column(String(16))
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QuizAnswer(Base):
    """An answer to one quiz question in one attempt; a second answer to it is never stored."""

    __tablename__ = "quiz_answers"
    __table_args__ = (UniqueConstraint("attempt_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_attempts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    skill_id: Mapped[str] = mapped_column(String(64))
    question_id: Mapped[str] = mapped_column(String(40))
    choice: Mapped[int] = mapped_column(Integer)  # 1-based
    correct: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SkillCompletion(Base):
    """A skill passed: one row per citizen and skill; later passes update the best score."""

    __tablename__ = "skill_completions"
    __table_args__ = (UniqueConstraint("user_id", "skill_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    skill_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    best_score: Mapped[float] = mapped_column(Float)
    best_attempt_id: Mapped[int | None] = mapped_column(
        ForeignKey("lesson_attempts.id", ondelete="SET NULL")
    )
    passes: Mapped[int] = mapped_column(Integer, default=1)
    first_passed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    last_passed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
