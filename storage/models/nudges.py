"""Nudges: a gentle reminder to finish a lesson left unfinished, and spaced review questions
after a safety skill was passed (issue 20 items 3 and 4).

- ``nudges``: one row per message that may go out, written when its cause happens (a lesson
  started, a skill passed) and checked again at send time. ``kind`` is ``reminder`` (``step``
  0: at most one per citizen and skill, ever) or ``review`` (``step`` 1, 2, ...: the n-th of
  ``nudges.review_days``). The row is also the unit of work of the nudge worker, with the
  broadcast deliveries' states (``pending`` until ``due_at``, ``claimed``, ``sending``, then
  ``sent``, ``failed`` or ``skipped`` with a ``reason``), plus ``window``: on a Zalo OA outside
  Zalo's 7-day window, waiting for the citizen to write again.
- ``nudge_prefs``: citizens who said "tắt nhắc" (no reminders, no reviews) until "bật nhắc".
- ``review_answers``: each answer to a review question, once per nudge and question.
Everything is deleted with the user (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

REMINDER = "reminder"
REVIEW = "review"

# States beyond the broadcast deliveries' (storage/models/broadcasts.py).
WINDOW = "window"  # Zalo OA: outside the 7-day window; re-armed when the citizen writes again

# Skip reasons.
FINISHED = "finished"  # the lesson was finished (or restarted) before the reminder was due
NOT_PASSED = "not_passed"  # a review whose skill is no longer passed (data changed)
NUDGES_OFF = "nudges_off"  # the citizen said "tắt nhắc"
GONE = "gone"  # the skill (or its quiz) is no longer in the content


class Nudge(Base):
    """One reminder or review question for one citizen, and where it stands."""

    __tablename__ = "nudges"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "skill_id", "step"),
        # Only rows still to send are indexed for the worker: sent ones are most of the table.
        Index(
            "ix_nudges_due",
            "due_at",
            "id",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index(
            "ix_nudges_held",
            "claimed_by",
            "claimed_at",
            postgresql_where=text("state IN ('claimed', 'sending')"),
            sqlite_where=text("state IN ('claimed', 'sending')"),
        ),
        Index(
            "ix_nudges_window",
            "user_id",
            postgresql_where=text("state = 'window'"),
            sqlite_where=text("state = 'window'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    skill_id: Mapped[str] = mapped_column(String(64))
    step: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NudgePref(Base):
    """A citizen who said "tắt nhắc": no reminders and no review questions."""

    __tablename__ = "nudge_prefs"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    off_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReviewAnswer(Base):
    """An answer to one review question; a second answer to it is never stored."""

    __tablename__ = "review_answers"
    __table_args__ = (UniqueConstraint("nudge_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nudge_id: Mapped[int] = mapped_column(ForeignKey("nudges.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    skill_id: Mapped[str] = mapped_column(String(64))
    question_id: Mapped[str] = mapped_column(String(40))
    choice: Mapped[int] = mapped_column(Integer)
    correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
