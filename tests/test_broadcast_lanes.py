"""Limits shared across processes (#19 item 3): two bot processes sending one broadcast on
PostgreSQL keep the configured rate together, and when one is killed the other finishes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from storage.db import Database
from storage.models import BroadcastDelivery, User
from storage.repos.lanes import LaneRepo
from tests import conftest
from tests.broadcast_helpers import lesson_broadcast, status, village

ROOT = Path(__file__).resolve().parent.parent


def _sends(path: Path) -> list[tuple[str, float]]:
    """(citizen, time) of each message the fake platform received from one process."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.append((parts[0], float(parts[1])))
    return out


async def _child(db: Database, log: Path, rate: float, lease: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.broadcast_child",
        db.url.render_as_string(hide_password=False),
        str(conftest.CONTENT),
        str(log),
        str(rate),
        str(lease),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def _stop(children: list[asyncio.subprocess.Process]) -> None:
    for child in children:
        if child.returncode is None:
            os.kill(child.pid, signal.SIGKILL)
        await child.wait()


async def _fresh(pg_url: str) -> Database:
    db = Database(pg_url)
    await db.drop_all()
    await db.create_all()
    return db


async def test_two_processes_share_one_lane_rate_on_postgres(pg_url: str, tmp_path: Path) -> None:
    db = await _fresh(pg_url)
    n, rate = 110, 10.0
    try:
        team, _ = await village(db, n)
        bid = await lesson_broadcast(db, team, at=datetime.now(UTC))
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        children = [await _child(db, log, rate, 30.0) for log in logs]
        try:
            deadline = time.monotonic() + 60
            while await status(db, bid) == "active":
                assert time.monotonic() < deadline, "the broadcast did not finish"
                assert all(c.returncode is None for c in children), "a child bot died"
                await asyncio.sleep(0.2)
        finally:
            await _stop(children)
        per_process = [_sends(log) for log in logs]
        times = sorted(t for sends in per_process for _, t in sends)
        assert Counter(u for sends in per_process for u, _ in sends).most_common(1)[0][1] == 1
        assert len(times) == n
        split = [len(s) for s in per_process]
        assert min(split) >= n // 5, split
        skip = 10  # the bucket starts full: measure the steady pace after it
        measured = (len(times) - 1 - skip) / (times[-1] - times[skip])
        print(f"two processes at {rate}/s together: {measured:.2f}/s, split {split}")
        # Never above the rate (the point: not 20/s). On a quiet machine it is within 5% below
        # too; processes starved of CPU (the suite shares two cores) can only send less.
        assert measured <= 1.05 * rate, f"{measured:.2f}/s for {rate}/s"
        assert measured >= 0.5 * rate, f"{measured:.2f}/s for {rate}/s: the lane stalls"
    finally:
        await db.dispose()


async def test_killed_process_leaves_its_share_to_the_other(pg_url: str, tmp_path: Path) -> None:
    db = await _fresh(pg_url)
    n = 300
    try:
        team, _ = await village(db, n)
        bid = await lesson_broadcast(db, team, at=datetime.now(UTC))
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        children = [await _child(db, log, 60.0, 1.0) for log in logs]
        try:
            deadline = time.monotonic() + 90  # two interpreters starting on a busy machine
            while len(_sends(logs[0])) < 20 or not _sends(logs[1]):
                assert time.monotonic() < deadline, "the bots sent nothing"
                await asyncio.sleep(0.01)
            os.kill(children[0].pid, signal.SIGKILL)
            await children[0].wait()
            killed_at = len(_sends(logs[0]))
            deadline = time.monotonic() + 60
            while await status(db, bid) == "active":
                assert time.monotonic() < deadline, "the other bot did not finish"
                assert children[1].returncode is None, "the other bot died"
                await asyncio.sleep(0.2)
        finally:
            await _stop(children)
        first, second = (Counter(u for u, _ in _sends(log)) for log in logs)
        assert sum(first.values()) == killed_at and sum(second.values()) > n - killed_at - 64
        async with db.transaction() as s:
            rows = (
                await s.execute(
                    select(User.external_id, BroadcastDelivery.state, BroadcastDelivery.reason)
                    .join(User, User.id == BroadcastDelivery.user_id)
                    .where(BroadcastDelivery.broadcast_id == bid)
                )
            ).all()
        assert len(rows) == n
        for ext, state, reason in rows:
            got = first[ext] + second[ext]
            if state == "sent":
                assert got == 1, (ext, got)
            else:  # in flight when the first bot was killed: maybe delivered, never twice
                assert (state, reason) == ("failed", "interrupted") and got <= 1, (ext, state)
    finally:
        await db.dispose()


async def test_a_pause_asked_by_the_platform_holds_the_lane_for_everyone(pg_url: str) -> None:
    db = await _fresh(pg_url)
    try:
        async with db.transaction() as s:
            first = await LaneRepo(s).take("telegram:abc", 10.0, 2.0, 5)
        assert first.granted == 2  # a new lane starts with its burst
        async with db.transaction() as s:
            assert (await LaneRepo(s).take("telegram:abc", 10.0, 2.0, 5)).granted == 0
        async with db.transaction() as s:
            await LaneRepo(s).hold("telegram:abc", 30.0)
        await asyncio.sleep(0.3)  # would refill three sends
        async with db.transaction() as s:
            held = await LaneRepo(s).take("telegram:abc", 10.0, 2.0, 5)
        assert held.granted == 0 and 29 < held.wait <= 30
        async with db.transaction() as s:
            other = await LaneRepo(s).take("zalo:oa1", 10.0, 2.0, 5)
        assert other.granted == 2  # lanes are independent
    finally:
        await db.dispose()
