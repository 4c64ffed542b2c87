"""The question log: every free-text question, what the bot did with it, and the feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel

from storage.models.base import Base, UTCDateTime, utcnow

ANSWERED = "answer"
ASKED_BACK = "ask"
FELL_BACK = "fallback"
OUTCOMES = (ANSWERED, ASKED_BACK, FELL_BACK)
HELPFUL = "up"
NOT_HELPFUL = "down"


class QuestionLog(Base):
    """One question typed to the bot.

    ``outcome`` is what the matcher decided (answered ``entry_id``, asked back with
    ``choices``, or fell back); when the citizen then picks one of the choices, ``entry_id``
    records it. ``feedback`` is 👍 (``up``) or 👎 (``down``) on the answer. Deleted with the user.
    """

    __tablename__ = "question_log"
    __table_args__ = (Index("ix_question_log_outcome_created", "outcome", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lets SQLite write a batch of questions with one INSERT ... RETURNING (migration 0006).
    _sentinel: Mapped[int | None] = orm_insert_sentinel()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    normalised: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[str | None] = mapped_column(String(64))
    choices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    feedback: Mapped[str | None] = mapped_column(String(8))
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
