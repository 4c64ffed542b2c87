"""Several processes on one PostgreSQL: one citizen's turns run in the platform's order, one at a
time, each once, whichever process receives them.

Two ``App`` instances on separate engines stand in for two processes (each with its own
per-user lock in memory; only the database is shared). What a turn's handling sees is recorded
by wrapping ``Routes.dispatch`` (the database is real). PostgreSQL only: SQLite serves one
process, whose per-user lock is the order.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.app import App, build_app
from bot.channels.memory import RICH
from bot.config import Config
from bot.core.context import Context
from bot.core.events import Sender, TextMessage, to_json
from bot.core.replies import Reply
from storage.db import Database
from storage.models import SeenEvent, utcnow
from storage.repos.delivery import SeenEventRepo, TurnQueueRepo
from tests.waiting import eventually


class Process:
    """One bot process: an app on its own engine, what it handled and what it answered.

    ``log`` (shared by the processes) lists the turns' texts as they were handled."""

    def __init__(self, name: str, app: App, citizen: Sender, log: list[str], busy: set[str]):
        self.name = name
        self.app = app
        self.citizen = citizen
        self.log = log
        self.answered: list[list[Reply]] = []
        dispatch = app.dispatcher.routes.dispatch

        async def watched(ctx: Context) -> None:
            who = ctx.event.sender.external_id
            if who in busy:
                log.append("two at once!")
            busy.add(who)
            try:
                await asyncio.sleep(0.005)  # a turn that takes a moment: overlaps would show
                await dispatch(ctx)
            finally:
                busy.discard(who)
            log.append(getattr(ctx.event, "text", type(ctx.event).__name__))

        app.dispatcher.routes.dispatch = watched  # type: ignore[method-assign]

    async def receive(self, text: str, seq: int, once: str | None = None) -> None:
        """A webhook update: the event, its id and its place in the platform's order."""

        async def respond(replies: Sequence[Reply]) -> None:
            self.answered.append(list(replies))

        event = TextMessage(sender=self.citizen, text=text)
        await self.app.core.handle(
            event, RICH, respond, once=once or f"{self.citizen.external_id}:{seq}", seq=seq
        )


@pytest.fixture
async def processes(config: Config, pg_url: str) -> AsyncIterator[tuple[Process, Process]]:
    """Two processes on one PostgreSQL database, and a citizen of this test only (the tables
    are kept if they exist: creating them costs a second)."""
    first = Database(pg_url)
    await first.create_all()
    second = Database(pg_url)
    citizen = Sender(channel="telegram", external_id=secrets.token_hex(6), display_name="Bác Tư")
    log: list[str] = []
    busy: set[str] = set()
    a = Process("A", build_app(config, db=first), citizen, log, busy)
    b = Process("B", build_app(config, db=second), citizen, log, busy)
    try:
        yield a, b
    finally:
        await a.app.stop()
        await b.app.stop()
        await first.dispose()
        await second.dispose()


async def recorded(db: Database, citizen: Sender) -> int:
    """The citizen's turns in ``seen_events`` not handled yet (handled ones lose the address)."""
    count = select(func.count(SeenEvent.id)).where(SeenEvent.address == citizen.external_id)
    async with db.transaction() as session:
        return int((await session.execute(count)).scalar_one())


async def test_turns_received_by_two_processes_run_in_the_platforms_order(
    processes: tuple[Process, Process],
) -> None:
    a, b = processes
    db, citizen = a.app.db, a.citizen
    # Both processes receive a turn while the citizen's turn is busy elsewhere (held here), the
    # newer one first: when the turn is free, the older runs first, then the newer, once each.
    for first, second in ((a, b), (b, a)):
        base = len(a.log)
        seq = 10 * (base + 1)
        async with db.transaction() as session:
            await TurnQueueRepo(session).lock([(citizen.channel, citizen.external_id)])
            newer = asyncio.create_task(first.receive(f"tin {seq + 1}", seq + 1))
            await eventually(lambda: _recorded(db, citizen, 1))
            older = asyncio.create_task(second.receive(f"tin {seq}", seq))
            await eventually(lambda: _recorded(db, citizen, 2))
        await asyncio.gather(newer, older)
        assert a.log[base:] == [f"tin {seq}", f"tin {seq + 1}"]
    # Whoever ran a turn delivered its replies, in order, and nobody else did.
    assert len(a.answered) + len(b.answered) == 4
    assert all(replies for replies in a.answered + b.answered)
    # Handled rows keep only their event ids: not who wrote, nor what.
    assert await recorded(db, citizen) == 0
    async with db.transaction() as session:
        rows = select(SeenEvent).where(SeenEvent.event_id.startswith(citizen.external_id))
        kept = (await session.scalars(rows)).all()
    assert len(kept) == 4
    assert all(r.handled_at and r.seq and not r.event and not r.address for r in kept)


async def _recorded(db: Database, citizen: Sender, n: int) -> bool:
    return await recorded(db, citizen) >= n


async def test_interleaved_turns_and_a_duplicate_to_both_are_each_handled_once(
    processes: tuple[Process, Process],
) -> None:
    a, b = processes
    # Six turns alternately at A and B, all at once, and the last one delivered to both.
    work: list[Any] = [(a if n % 2 else b).receive(f"tin {n}", n) for n in range(1, 7)]
    work.append(a.receive("tin 6", 6))
    await asyncio.gather(*work)
    assert sorted(a.log) == [f"tin {n}" for n in range(1, 7)]  # each once, never at once
    assert len(a.answered) + len(b.answered) == 6


async def test_a_turn_left_by_a_dead_process_runs_before_the_next_and_a_late_one_still_runs(
    processes: tuple[Process, Process],
) -> None:
    a, _ = processes
    who = a.citizen.external_id

    async def died_after_recording(seq: int, minutes_ago: int = 0) -> None:
        async with a.app.db.transaction() as session:
            said = to_json(TextMessage(sender=a.citizen, text=f"tin {seq}"))
            await TurnQueueRepo(session).record("telegram", f"{who}:{seq}", who, seq, said)
            then = utcnow() - timedelta(minutes=minutes_ago)
            await session.execute(
                update(SeenEvent).where(SeenEvent.event_id == f"{who}:{seq}").values(seen_at=then)
            )

    await died_after_recording(0, minutes_ago=10)  # too old: the citizen has moved on
    await died_after_recording(1)
    await a.receive("tin 3", 3)
    assert a.log == ["tin 1", "tin 3"]
    assert len(a.answered) == 2
    await a.receive("tin 2", 2)  # older than one already handled: handled, late
    assert a.log == ["tin 1", "tin 3", "tin 2"]
    assert await recorded(a.app.db, a.citizen) == 1
    async with a.app.db.transaction() as session:  # housekeeping forgets what it said
        await SeenEventRepo(session).forget_before(utcnow() - timedelta(days=2))
    assert await recorded(a.app.db, a.citizen) == 0
