"""A claim takes at most its batch (#18 item 2): on PostgreSQL a second worker gets the rest."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.app import build_app
from bot.config import Config
from storage.db import Database
from storage.models import BroadcastDelivery
from storage.repos.broadcasts import BroadcastRepo
from tests.broadcast_helpers import (
    MORNING,
    Recorder,
    fast_config,
    lesson_broadcast,
    tally,
    until_done,
    village,
    worker,
)


async def _claimed(db: Database) -> int:
    async with db.transaction() as s:
        query = select(func.count()).where(BroadcastDelivery.state == "claimed")
        return int(await s.scalar(query) or 0)


async def test_a_claim_takes_at_most_its_limit(any_db: Database) -> None:
    team, _ = await village(any_db, 1000)
    await lesson_broadcast(any_db, team)
    now = MORNING + timedelta(seconds=1)
    skip = any_db.url.get_backend_name() == "postgresql"
    async with any_db.transaction() as s:
        first = await BroadcastRepo(s).claim("a", "rec", 50, now, skip_locked=skip)
    assert len(first) == 50
    assert await _claimed(any_db) == 50
    async with any_db.transaction() as s:
        second = await BroadcastRepo(s).claim("b", "rec", 50, now, skip_locked=skip)
    assert len(second) == 50
    assert not {c.id for c in first} & {c.id for c in second}
    assert await _claimed(any_db) == 100


async def test_two_workers_on_postgres_both_send_and_never_twice(
    pg_url: str, config: Config
) -> None:
    dbs = [Database(pg_url), Database(pg_url)]
    await dbs[0].drop_all()
    await dbs[0].create_all()
    apps = [build_app(config, db=d) for d in dbs]
    try:
        team, _ = await village(dbs[0], 1000)
        bid = await lesson_broadcast(dbs[0], team)
        channels = [Recorder(delay=0.002), Recorder(delay=0.002)]
        workers = [
            worker(a.services, c, fast_config(batch_size=50), owner=f"w{i}")
            for i, (a, c) in enumerate(zip(apps, channels, strict=True))
        ]
        for a in apps:
            a.services.clock = lambda: MORNING + timedelta(seconds=1)
        await asyncio.gather(*(w.run_once() for w in workers))
        await until_done(workers[1], dbs[0], bid)
        sent = [sum(c.counts().values()) for c in channels]
        counts = channels[0].counts() + channels[1].counts()
        assert len(counts) == 1000 and set(counts.values()) == {1}
        assert min(sent) >= 200, sent  # both shared the work
        assert await tally(dbs[0], bid) == {"sent": 1000}
    finally:
        for a in apps:
            await a.stop()
