"""Zalo Official Accounts (issue 14): the OAs that authorised our Zalo App, and their state.

- ``zalo_oas``: one row per OA, with its access and refresh tokens **encrypted** (Fernet, key
  from ``ZALO_OA_TOKEN_KEY``; ``bot/channels/zalo_oa/tokens.py``). ``token_version`` grows at
  each refresh: the refresh is single-flight across processes by locking this row, and a
  process that waited sees the version moved and uses the new pair instead of burning the
  (single-use) refresh token a second time.
- ``zalo_oa_teams``: the teams (villages) an OA serves; a citizen who writes to the OA is
  offered these villages after consent, and the teams' QR posters carry the OA's link.
- ``zalo_oauth_states``: the single-use ``state`` of a pending ``trolyso zalo-oa connect``
  (with its PKCE verifier, encrypted), valid for ten minutes.
- ``zalo_oa_images``: images uploaded to an OA (``upload/image``), re-used while valid.

Citizens on an OA are ordinary ``users`` of channel ``zalo_oa`` with external id
``<oa_id>:<user_id>`` (Zalo gives each OA its own user ids): the same person on two OAs is two
users, like the same person on Zalo and Telegram.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from storage.models.users import User

CHANNEL = "zalo_oa"
# Zalo lets an OA message a citizen only within 7 days of their last interaction; last_seen is
# kept to the ten minutes, so stay a little inside (the channel applies the same rule).
WINDOW = timedelta(days=7) - timedelta(minutes=15)


def outside_window(user: User, now: datetime) -> bool:
    """Whether an OA may no longer message this citizen (they have not written in 7 days)."""
    return user.channel == CHANNEL and now - user.last_seen > WINDOW


class ZaloOA(Base):
    """An Official Account that authorised the app; tokens are ciphertext."""

    __tablename__ = "zalo_oas"

    id: Mapped[int] = mapped_column(primary_key=True)
    oa_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    problem: Mapped[str | None] = mapped_column(String(200))
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ZaloOATeam(Base):
    """An OA serves a team (a village); an OA may serve several, a team has at most one OA."""

    __tablename__ = "zalo_oa_teams"

    oa_id: Mapped[int] = mapped_column(
        ForeignKey("zalo_oas.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True, unique=True
    )


class ZaloOAuthState(Base):
    """A pending OAuth permission request: single use, ten minutes."""

    __tablename__ = "zalo_oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    verifier: Mapped[str] = mapped_column(Text)  # encrypted PKCE code verifier
    teams: Mapped[list[Any]] = mapped_column(JSON, default=list)  # team codes to link
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ZaloOAImage(Base):
    """An image uploaded to an OA, by the SHA-256 of its bytes."""

    __tablename__ = "zalo_oa_images"
    __table_args__ = (UniqueConstraint("oa_id", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    oa_id: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    attachment_id: Mapped[str] = mapped_column(String(512))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
