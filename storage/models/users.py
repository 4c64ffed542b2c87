"""People who talk to the bot, keyed by channel and their id on it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


class Role(StrEnum):
    """What a user may do: citizens use the bot; members and leads serve one team; a commune
    official belongs to one team and oversees every team of its commune; admins all."""

    CITIZEN = "citizen"
    MEMBER = "member"
    LEAD = "lead"
    ADMIN = "admin"
    COMMUNE = "commune"


ROLES = tuple(Role)
TEAM_STAFF = frozenset({Role.MEMBER, Role.LEAD, Role.COMMUNE})  # staff who belong to one team
STAFF = TEAM_STAFF | {Role.ADMIN}  # who may use the team tools


class User(Base):
    """A user of one channel. The same person on Zalo and Telegram is two users."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default=Role.CITIZEN.value, index=True)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
