"""Cancelling a broadcast: rows not yet claimed are dropped, claimed ones are never sent, ones
being sent finish; nothing is sent twice and nothing is left waiting (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import App, build_app
from bot.config import Config
from storage.db import Database
from storage.models.broadcasts import OPEN_STATES
from storage.repos.broadcasts import BroadcastRepo
from storage.repos.leases import Outcome
from tests.broadcast_helpers import (
    MORNING,
    Clock,
    Recorder,
    lesson_broadcast,
    status,
    tally,
    village,
    worker,
)


@pytest.fixture
async def app(config: Config, any_db: Database) -> AsyncIterator[App]:
    """The bot wired on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set."""
    application = build_app(config, db=any_db)
    yield application
    await application.stop()


async def test_cancel_at_each_stage_of_a_row(app: App) -> None:
    team, _ = await village(app.db, 6)
    bid = await lesson_broadcast(app.db, team)
    now = MORNING + timedelta(seconds=1)
    skip = app.db.url.get_backend_name() == "postgresql"
    async with app.db.transaction() as s:
        repo = BroadcastRepo(s)
        claimed = await repo.claim("w", "rec", 4, now, skip_locked=skip)
        ready, _ = await repo.start_sending("w", [c.id for c in claimed[:3]], now)
    assert len(ready) == 3  # 3 sending, 1 claimed, 2 pending
    async with app.db.transaction() as s:
        assert await BroadcastRepo(s).cancel(bid, now)
        assert not await BroadcastRepo(s).cancel(bid, now)  # once
    assert await tally(app.db, bid) == {"sending": 3, "skipped": 3, "skipped:cancelled": 3}
    async with app.db.transaction() as s:
        repo = BroadcastRepo(s)
        # The claimed row is no longer the worker's: it is neither sent nor skipped again
        assert await repo.start_sending("w", [claimed[3].id], now) == ([], {})
        # Of the rows being sent: one arrives, one will be retried, one was never started
        await repo.record(
            "w",
            [
                Outcome(ready[0].id, "sent"),
                Outcome(ready[1].id, "pending", retry_at=now + timedelta(seconds=30)),
            ],
            now,
        )
        await repo.unstart("w", [ready[2].id], now)
        # Nothing of a cancelled broadcast is claimed again
        assert await repo.claim("w", "rec", 10, now + timedelta(minutes=5), skip_locked=skip) == []
    final = await tally(app.db, bid)
    assert final == {"sent": 1, "skipped": 5, "skipped:cancelled": 5}
    assert await status(app.db, bid) == "cancelled"


async def test_cancelling_a_running_broadcast_sends_nothing_twice(app: App) -> None:
    channel = Recorder(delay=0.005)
    app.channels[channel.name] = channel
    app.services.clock = Clock()
    team, _ = await village(app.db, 120)
    bid = await lesson_broadcast(app.db, team)
    w = worker(app.services, channel)
    halfway = asyncio.Event()
    held = asyncio.Event()  # sends after the 25th wait here until the cancel is committed

    def at_send(n: int) -> None:
        if n >= 25 and not halfway.is_set():
            channel.gate = held
            halfway.set()

    channel.on_send = at_send
    running = asyncio.create_task(w.run_once())
    await asyncio.wait_for(halfway.wait(), timeout=20)
    async with app.db.transaction() as s:
        assert await BroadcastRepo(s).cancel(bid, app.services.clock())
    held.set()
    await asyncio.wait_for(running, timeout=20)
    await w.run_once()
    counts = channel.counts()
    assert all(n == 1 for n in counts.values())
    final = await tally(app.db, bid)
    assert not any(final.get(state) for state in OPEN_STATES), final
    assert final.get("sent", 0) == sum(counts.values()) >= 25
    assert final.get("skipped:cancelled", 0) > 0
    assert final.get("sent", 0) + final["skipped:cancelled"] + final.get("failed", 0) == 120
    assert await status(app.db, bid) == "cancelled"
