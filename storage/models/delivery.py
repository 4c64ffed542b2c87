"""Inbound de-duplication, the web chat's outbox and its recent history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


class SeenEvent(Base):
    """A platform event id already handled (webhooks may deliver twice, to any process)."""

    __tablename__ = "seen_events"
    __table_args__ = (UniqueConstraint("channel", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class WebOutbox(Base):
    """Replies pushed to a web chat user, waiting for their page to fetch them."""

    __tablename__ = "web_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), index=True)
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebHistory(Base):
    """The last things said in a web chat (shown again when the page reloads), newest last.

    ``item`` is ``{"from": "me", "text": ...}`` or ``{"from": "bot", <reply as the API shows it>}``.
    Only the last few per user are kept (``WebHistoryRepo.KEEP``).
    """

    __tablename__ = "web_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), index=True)
    item: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
