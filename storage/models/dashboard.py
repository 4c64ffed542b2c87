"""The web dashboard's sign-in: one-time links from the chat, sessions, redemption attempts.

- ``dashboard_links``: a link "Mở trang quản lý" sent to a staff user in the chat; only the
  SHA-256 of its token is stored; valid 10 minutes, used once.
- ``dashboard_sessions``: a signed-in browser; only the hash of the cookie's value is stored,
  with the CSRF token of its forms; expires, and is revoked by "log out".
- ``dashboard_attempts``: recent link redemptions per client (a hash of its address), to slow
  down guessing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


class DashboardLink(Base):
    """A one-time sign-in link; ``token_hash`` is the SHA-256 hex of the token in the URL."""

    __tablename__ = "dashboard_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DashboardSession(Base):
    """A signed-in browser; ``token_hash`` is the SHA-256 hex of the session cookie."""

    __tablename__ = "dashboard_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DashboardAttempt(Base):
    """One link redemption tried by a client (``client`` is a hash of its address)."""

    __tablename__ = "dashboard_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
