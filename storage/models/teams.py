"""Village teams, who belongs to which, the team question queue, and follow-up records.

- ``teams``: a team (Tổ công nghệ số cộng đồng) of one village in a commune/ward, with the
  short public join code printed on its QR poster.
- ``team_memberships``: which team a user belongs to (at most one), and for a citizen an
  optional household label a member recorded (the commune report counts households).
  Citizens join with the team's code or by choosing their village; members and leads join
  with a one-time invite.
  The user's role (citizen/member/lead/admin) stays on ``users.role``.
- ``member_invites``: one-time codes an admin hands out to make someone a member, lead or admin.
- ``team_questions``: questions the bot could not answer, sent by a citizen to their team
  (``team_id`` NULL: the admin queue), with the answer, who answered and when.
- ``guided_skills``: a member taught a citizen a skill face to face (distinct from a bot
  completion in ``skill_completions``).
- ``anonymous_counts``: what is left of a citizen who deleted their data: counts per team,
  kind and skill, with no link to any person. Reports add them to the totals.
- ``shared_files``: reports (CSV, charts) served once under an unguessable, expiring URL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

# How a user came into a team.
JOINED_BY_LINK = "link"  # Telegram deep link / QR code
JOINED_BY_CODE = "code"  # typed the code
JOINED_BY_CHOICE = "choice"  # chose commune and village at onboarding
JOINED_BY_INVITE = "invite"  # a member invite

# Team question status.
OPEN = "open"
ANSWERED = "answered"

# Kinds of anonymous counts.
COUNT_CITIZEN = "citizen"  # a citizen who deleted their data
COUNT_COMPLETION = "completion"  # a skill they had passed (skill_id set)
COUNT_GUIDED = "guided"  # a skill they were guided through in person (skill_id set)
COUNT_BASIC_FIVE = "basic_five"  # they had reached the five basic skills
COUNT_QUESTION = "question"  # questions they had sent to the team


class Team(Base):
    """A village team; ``code`` is the public join code (upper case letters and digits)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    commune: Mapped[str] = mapped_column(String(128), index=True)
    village: Mapped[str] = mapped_column(String(128))
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # How citizens reach the team (all optional): phone or Zalo number, meeting place, hours.
    phone: Mapped[str | None] = mapped_column(String(32))
    place: Mapped[str | None] = mapped_column(String(200))
    hours: Mapped[str | None] = mapped_column(String(200))


class TeamMembership(Base):
    """The team a user belongs to: one row per user at most."""

    __tablename__ = "team_memberships"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    joined_by: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A short household label a member recorded for a citizen (never an address or ID number)
    household: Mapped[str | None] = mapped_column(String(40))


class MemberInvite(Base):
    """A one-time code making whoever types it a member or lead of a team (or an admin)."""

    __tablename__ = "member_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TeamQuestion(Base):
    """A citizen's question for a human; ``team_id`` NULL means the admin queue."""

    __tablename__ = "team_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # fallback | feedback | direct
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class GuidedSkill(Base):
    """A member taught a citizen a skill in person; one row per citizen and skill."""

    __tablename__ = "guided_skills"
    __table_args__ = (UniqueConstraint("user_id", "skill_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    skill_id: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    guided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    guided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AnonymousCount(Base):
    """Counts kept when a citizen deletes their data; summed by reports, never linked to anyone."""

    __tablename__ = "anonymous_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    skill_id: Mapped[str] = mapped_column(String(64), default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SharedFile(Base):
    """A generated file (report CSV, chart) downloadable by its token until it expires."""

    __tablename__ = "shared_files"

    token: Mapped[str] = mapped_column(String(48), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
