"""A team's notes on its citizens, and the follow-up threads between a member and a citizen.

- ``citizen_notes``: one short note (at most ``NOTE_LENGTH`` characters) a team keeps on one of
  its citizens ("con gái hay về cuối tuần"), with who wrote it and when. It belongs to the team
  (``team_id``): only that team's members, leads and the admins see it, and only while the
  citizen is still in that team. Deleted with the citizen (``ON DELETE CASCADE``).
- ``followup_threads``: a conversation between one member and one citizen that goes on after a
  team's answer (``question_id`` set) or after a member wrote first from "Ai cần giúp"
  (``question_id`` NULL). A citizen's reply goes to ``member_id``, never to the whole team.
- ``followup_messages``: the messages of a thread after its first question and answer (those
  stay on ``team_questions``), in order; ``from_citizen`` says who wrote.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

NOTE_LENGTH = 200
MESSAGE_LENGTH = 1000


class CitizenNote(Base):
    """A team's short note on one of its citizens."""

    __tablename__ = "citizen_notes"
    __table_args__ = (UniqueConstraint("user_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(NOTE_LENGTH))
    written_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FollowupThread(Base):
    """A member and a citizen writing to each other outside the team's queue."""

    __tablename__ = "followup_threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("team_questions.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FollowupMessage(Base):
    """One message of a thread."""

    __tablename__ = "followup_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(
        ForeignKey("followup_threads.id", ondelete="CASCADE"), index=True
    )
    from_citizen: Mapped[bool] = mapped_column(Boolean)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
