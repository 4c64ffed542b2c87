"""Inbound de-duplication, the web chat's outbox and its recent history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


class SeenEvent(Base):
    """A platform event id already seen (webhooks may deliver twice, to any process).

    On PostgreSQL a chat turn's row is also its place in the citizen's queue
    (``bot.core.dispatcher``): ``address`` (the citizen on ``channel``), ``seq`` (the
    platform's order: Telegram's update id, Zalo's message time), ``event`` (the event itself,
    so whichever process holds the citizen's turn can handle it; cleared once handled) and
    ``handled_at`` (None while pending). Rows recorded only for dedupe have no ``address``.
    """

    __tablename__ = "seen_events"
    __table_args__ = (
        UniqueConstraint("channel", "event_id"),
        # Only pending turns are indexed: a handled one is never looked up by citizen again.
        Index(
            "ix_seen_events_pending",
            "channel",
            "address",
            postgresql_where=text("handled_at IS NULL AND address IS NOT NULL"),
            sqlite_where=text("handled_at IS NULL AND address IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    address: Mapped[str | None] = mapped_column(String(128), default=None)
    seq: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    event: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


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
