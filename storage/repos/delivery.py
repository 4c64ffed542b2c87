"""Inbound de-duplication, the web chat outbox and its history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SeenEvent, WebHistory, WebOutbox
from storage.repos.lists import chunks


class SeenEventRepo:
    """Remembers platform event ids so a redelivered event is handled once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first_time(self, channel: str, event_id: str) -> bool:
        """Record the event; False when it was already recorded (by any process)."""
        try:
            async with self.session.begin_nested():
                self.session.add(SeenEvent(channel=channel, event_id=event_id[:128]))
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def forget_before(self, cutoff: datetime) -> None:
        """Drop ids older than ``cutoff``."""
        await self.session.execute(delete(SeenEvent).where(SeenEvent.seen_at < cutoff))


class WebOutboxRepo:
    """Replies waiting for a web chat page."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, external_id: str, replies: list[dict[str, Any]]) -> None:
        """Queue replies for a web user."""
        self.session.add_all(WebOutbox(external_id=external_id, reply=r) for r in replies)

    async def take(self, external_id: str) -> list[dict[str, Any]]:
        """Remove and return the queued replies of a web user, oldest first."""
        rows = (
            (
                await self.session.execute(
                    select(WebOutbox)
                    .where(WebOutbox.external_id == external_id)
                    .order_by(WebOutbox.id)
                )
            )
            .scalars()
            .all()
        )
        for block in chunks([r.id for r in rows]):
            await self.session.execute(delete(WebOutbox).where(WebOutbox.id.in_(block)))
        return [r.reply for r in rows]


class WebHistoryRepo:
    """The last items of each web chat, for a page that reloads."""

    KEEP = 30  # items per user; older ones are deleted as new ones come

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, external_id: str, items: list[dict[str, Any]]) -> None:
        """Append items (oldest first) and forget all but the last ``KEEP``."""
        if not items:
            return
        self.session.add_all(WebHistory(external_id=external_id, item=i) for i in items)
        await self.session.flush()
        oldest_kept = (
            select(WebHistory.id)
            .where(WebHistory.external_id == external_id)
            .order_by(WebHistory.id.desc())
            .offset(self.KEEP - 1)
            .limit(1)
            .scalar_subquery()
        )
        await self.session.execute(
            delete(WebHistory).where(
                WebHistory.external_id == external_id, WebHistory.id < oldest_kept
            )
        )

    async def recent(self, external_id: str) -> list[dict[str, Any]]:
        """The kept items, oldest first."""
        rows = await self.session.scalars(
            select(WebHistory.item)
            .where(WebHistory.external_id == external_id)
            .order_by(WebHistory.id.desc())
            .limit(self.KEEP)
        )
        return list(reversed(rows.all()))

    async def forget(self, external_id: str) -> None:
        """Delete one user's history."""
        await self.session.execute(delete(WebHistory).where(WebHistory.external_id == external_id))
