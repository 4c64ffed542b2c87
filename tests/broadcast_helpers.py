"""Helpers for the broadcast tests: a recording fake channel, a steerable clock, audiences."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bot.broadcast.worker import BroadcastWorker
from bot.channels.base import Channel
from bot.channels.memory import RICH
from bot.config import BroadcastConfig, BroadcastRates
from bot.core.replies import Reply
from bot.core.services import Services
from storage.db import Database
from storage.models import Team, TeamMembership, User
from storage.repos.broadcasts import Audience, BroadcastRepo
from tests.waiting import eventually

CHANNEL = "rec"
# 10:00 in Hanoi on a weekday: outside quiet hours.
MORNING = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


class Clock:
    """Real time flowing from ``start``, plus jumps a test makes with ``shift``."""

    def __init__(self, start: datetime = MORNING) -> None:
        self.start = start
        self.origin = time.monotonic()
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return self.start + self.offset + timedelta(seconds=time.monotonic() - self.origin)

    def shift(self, delta: timedelta) -> None:
        """Jump forward (or back)."""
        self.offset += delta

    def set_local(self, hour: int, minute: int = 0) -> None:
        """Jump to a local (UTC+7) time on the same day as the start."""
        target = self.start.replace(hour=(hour - 7) % 24, minute=minute)
        self.origin = time.monotonic()
        self.start = target
        self.offset = timedelta()


class Recorder(Channel):
    """A fake platform that records every message and can fail on cue.

    ``errors[external_id]`` is a list of exceptions raised by the next sends to that user;
    ``on_send(n)`` is called after the n-th successful send (to cut a worker at that point);
    while ``gate`` is set and not open, sends wait for it (to hold a worker mid-run).
    """

    def __init__(self, name: str = CHANNEL, delay: float = 0.0) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.name = name
        self.capabilities = RICH
        self.delay = delay
        self.sent: list[tuple[str, Reply]] = []
        self.errors: dict[str, list[Exception]] = {}
        self.calls: list[tuple[float, str, str]] = []  # (start time, user, outcome)
        self.on_send: Callable[[int], None] | None = None
        self.gate: asyncio.Event | None = None

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        started = time.monotonic()
        if self.delay:
            await asyncio.sleep(self.delay)
        else:
            await asyncio.sleep(0)
        if self.gate is not None:
            await self.gate.wait()
        pending = self.errors.get(external_id)
        if pending:
            exc = pending.pop(0)
            self.calls.append((started, external_id, type(exc).__name__))
            raise exc
        self.calls.append((started, external_id, "ok"))
        for reply in replies:
            self.sent.append((external_id, reply))
        if self.on_send is not None:
            self.on_send(len(self.sent))

    def counts(self) -> Counter[str]:
        """Messages received per user."""
        return Counter(user for user, _ in self.sent)


def fast_config(**changes: object) -> BroadcastConfig:
    """No rate limit, no quiet hours, short leases and waits."""
    base = BroadcastConfig(
        rate_per_second=BroadcastRates(telegram=0, zalo=0, web=0, other=0),
        quiet_start="",
        quiet_end="",
        batch_size=20,
        retry_delay=0.01,
        lease_seconds=30.0,
        poll_interval=0.01,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def worker(
    services: Services, channel: Channel, config: BroadcastConfig | None = None, owner: str = ""
) -> BroadcastWorker:
    """A worker sending on one channel."""
    return BroadcastWorker(
        services, {channel.name: channel}, config=config or fast_config(), owner=owner or None
    )


async def village(
    db: Database,
    n: int,
    *,
    channel: str = CHANNEL,
    code: str = "DONG01",
    prefix: str = "u",
    now: datetime = MORNING,
) -> tuple[int, list[int]]:
    """A team with ``n`` consented citizens; returns the team id and the citizens' ids."""
    async with db.transaction() as s:
        team = Team(name="thôn Đông", commune="xã Hòa An", village="Đông", code=code)
        s.add(team)
        await s.flush()
        rows = [
            {
                "channel": channel,
                "external_id": f"{prefix}{i}",
                "role": "citizen",
                "consent_at": now,
                "first_seen": now,
                "last_seen": now,
            }
            for i in range(n)
        ]
        ids: list[int] = []
        for start in range(0, n, 1000):
            result = await s.execute(insert(User).returning(User.id), rows[start : start + 1000])
            ids.extend(result.scalars().all())
        if ids:
            await s.execute(
                insert(TeamMembership),
                [
                    {"user_id": uid, "team_id": team.id, "joined_by": "code", "joined_at": now}
                    for uid in ids
                ],
            )
        return team.id, ids


async def staff(db: Database, team_id: int | None, role: str = "lead", ext: str = "lead") -> int:
    """A team member (or admin) on the recording channel; returns their id."""
    async with db.transaction() as s:
        user = User(
            channel=CHANNEL,
            external_id=ext,
            role=role,
            consent_at=MORNING,
            first_seen=MORNING,
            last_seen=MORNING,
        )
        s.add(user)
        await s.flush()
        if team_id is not None:
            s.add(TeamMembership(user_id=user.id, team_id=team_id, joined_by="invite"))
        return user.id


async def lesson_broadcast(
    db: Database,
    team_id: int | None,
    *,
    skill: str = "sk_spot_phishing",
    only_missing: bool = False,
    by: int | None = None,
    at: datetime = MORNING,
) -> int:
    """Create a lesson broadcast; returns its id."""
    async with db.transaction() as s:
        b = await BroadcastRepo(s).create(
            Audience(team_id=team_id, skill_id=skill, only_missing=only_missing),
            kind="lesson",
            title=f"Bài {skill}",
            body=f"Mời bạn học bài {skill}.",
            scheduled_at=at,
            created_by=by,
            now=at,
        )
        return b.id


async def tally(db: Database, broadcast_id: int) -> dict[str, int]:
    """States (and reasons) of a broadcast's deliveries."""
    async with db.transaction() as s:
        return await BroadcastRepo(s).tally(broadcast_id)


async def status(db: Database, broadcast_id: int) -> str:
    """A broadcast's status."""
    async with db.transaction() as s:
        b = await BroadcastRepo(s).get(broadcast_id)
        assert b is not None
        return b.status


async def until_done(
    w: BroadcastWorker, db: Database, broadcast_id: int, limit: float = 10.0
) -> None:
    """Run the worker until the broadcast is over."""

    async def over() -> bool:
        if await status(db, broadcast_id) != "active":
            return True
        await w.run_once()
        return False

    await eventually(over, within=limit, describe=lambda: tally(db, broadcast_id))
