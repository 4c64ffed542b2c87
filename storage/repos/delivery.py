"""Inbound de-duplication, the web chat outbox and its history."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, bindparam, delete, null, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SeenEvent, WebHistory, WebOutbox, utcnow
from storage.repos.lists import MAX_LIST, chunks

ORPHANED = timedelta(minutes=2)  # a turn pending longer (its process died) is not taken up


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
        """Drop ids older than ``cutoff``, and what a turn left pending by a process that died
        said (no process takes it up after ``ORPHANED``)."""
        await self.session.execute(delete(SeenEvent).where(SeenEvent.seen_at < cutoff))
        await self.session.execute(
            update(SeenEvent)
            .where(
                SeenEvent.handled_at.is_(None),
                SeenEvent.address.is_not(None),
                SeenEvent.seen_at < utcnow() - ORPHANED,
            )
            .values(handled_at=utcnow(), address=null(), event=null())
        )


@dataclass(frozen=True)
class Pending:
    """A citizen's turn recorded by some process and not handled yet."""

    id: int
    channel: str
    address: str
    seq: int | None
    event: dict[str, Any] | None


def turn_key(channel: str, address: str) -> int:
    """The advisory lock key of one citizen's turns: 64 bits of a hash that every process
    computes alike (Python's ``hash`` is salted per process). A collision only makes two
    citizens wait for each other."""
    digest = hashlib.blake2b(f"turn\x1f{channel}\x1f{address}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


_LOCK = text("SELECT pg_advisory_xact_lock(k) FROM unnest(:keys) AS k ORDER BY k").bindparams(
    bindparam("keys", type_=ARRAY(BigInteger()))
)


class TurnQueueRepo:
    """Citizens' turns across processes, on PostgreSQL (``bot.core.dispatcher`` says how).

    ``lock`` takes the turn of citizens until the transaction ends (``pg_advisory_xact_lock``,
    which PgBouncer's transaction pooling allows; session-level locks it does not). ``record``
    queues a turn (None for an event id seen before: dedupe); ``claim``, under the lock,
    marks the citizens' pending turns handled and returns them with their events. A handled
    row keeps only its event id (the citizen and what they said are cleared).
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, citizens: Sequence[tuple[str, str]]) -> None:
        """Wait for, then hold, the turn of each citizen (in key order: no deadlock between
        two transactions locking overlapping sets) until this transaction ends."""
        keys = sorted({turn_key(channel, address) for channel, address in citizens})
        if len(keys) > MAX_LIST:
            raise ValueError(f"{len(keys)} citizens in one statement")
        if keys:
            await self.session.execute(_LOCK, {"keys": keys})

    async def record(
        self, channel: str, event_id: str, address: str, seq: int | None, event: dict[str, Any]
    ) -> int | None:
        """Queue a turn; its row id, or None when the event id was recorded before."""
        statement = (
            insert(SeenEvent)
            .values(
                channel=channel,
                event_id=event_id[:128],
                seen_at=utcnow(),
                address=address[:128],
                seq=seq,
                event=event,
            )
            .on_conflict_do_nothing(index_elements=["channel", "event_id"])
            .returning(SeenEvent.id)
        )
        row_id: int | None = (await self.session.execute(statement)).scalar_one_or_none()
        return row_id

    async def claim(
        self,
        citizens: Sequence[tuple[str, str]],
        own: Sequence[int],
        *,
        within: timedelta = ORPHANED,
        others: bool = True,
    ) -> list[Pending]:
        """Mark pending turns handled and return them, each citizen's oldest first.

        The pending turns of ``citizens`` recorded in the last ``within`` (older ones are
        left: their process died long ago and the citizen moved on), and the ``own`` rows
        whatever their age; with ``others=False`` only the ``own`` rows. An own row not
        returned was handled by another process. Call it holding the citizens' lock, after
        taking it (a statement sees what was committed when it started). The events are
        cleared as they are taken.
        """
        if not citizens:
            return []
        if len(citizens) > MAX_LIST or len(own) > MAX_LIST:
            raise ValueError("too many citizens in one statement")
        mine = SeenEvent.id.in_(list(own))
        since = utcnow() - within
        wanted = (
            select(
                SeenEvent.id, SeenEvent.channel, SeenEvent.address, SeenEvent.seq, SeenEvent.event
            )
            .where(
                SeenEvent.handled_at.is_(None),
                SeenEvent.address.is_not(None),
                tuple_(SeenEvent.channel, SeenEvent.address).in_(list(citizens)),
                or_(SeenEvent.seen_at >= since, mine) if others else mine,
            )
            .subquery()
        )
        statement = (
            update(SeenEvent)
            .where(SeenEvent.id == wanted.c.id)
            .values(handled_at=utcnow(), address=null(), event=null())
            .returning(
                wanted.c.id, wanted.c.channel, wanted.c.address, wanted.c.seq, wanted.c.event
            )
        )
        rows = (await self.session.execute(statement)).all()
        pending = [Pending(r[0], r[1], r[2] or "", r[3], r[4]) for r in rows]
        return sorted(pending, key=lambda p: (p.seq is None, p.seq or 0, p.id))

    async def settle(self, row_id: int) -> None:
        """A turn given up (it failed every attempt): never taken up again by anyone."""
        await self.session.execute(
            update(SeenEvent)
            .where(SeenEvent.id == row_id, SeenEvent.handled_at.is_(None))
            .values(handled_at=utcnow(), address=null(), event=null())
        )


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
