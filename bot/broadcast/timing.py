"""When broadcasts may go out: quiet hours in local time, and the pace of each sending lane.

A lane is one bot token (a channel) or one Official Account (a lane inside a channel).
``Pace`` keeps a lane's pace in this process (SQLite: one process); ``SharedPace`` keeps a
schedule of send slots in PostgreSQL, so every process together sends at the configured rate
and a platform's "retry after" pauses the lane for all of them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from storage.db import Database

log = logging.getLogger(__name__)

VIETNAM = "Asia/Ho_Chi_Minh"


def zone(name: str) -> tzinfo:
    """A time zone by name. Vietnam (UTC+7, no daylight saving) works without tz data."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name == VIETNAM:
            return timezone(timedelta(hours=7), "ICT")
        raise


def _minutes(value: str) -> int:
    hours, _, minutes = value.strip().partition(":")
    return int(hours) * 60 + int(minutes)


class QuietHours:
    """A nightly window (e.g. 21:00–07:00 local time) in which nothing is sent."""

    def __init__(self, start: str, end: str, tz: str = VIETNAM) -> None:
        self.enabled = bool(start.strip() and end.strip()) and _minutes(start) != _minutes(end)
        self.start = _minutes(start) if self.enabled else 0
        self.end = _minutes(end) if self.enabled else 0
        self.tz = zone(tz)
        self.label = f"{start.strip()}–{end.strip()}" if self.enabled else ""
        self.end_label = end.strip()

    def _minute(self, now: datetime) -> int:
        local = now.astimezone(self.tz)
        return local.hour * 60 + local.minute

    def active(self, now: datetime) -> bool:
        """Whether ``now`` (aware) falls in quiet hours."""
        if not self.enabled:
            return False
        minute = self._minute(now)
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def ends(self, now: datetime) -> datetime:
        """When the quiet period containing ``now`` ends (``now`` itself when not quiet)."""
        if not self.active(now):
            return now
        local = now.astimezone(self.tz)
        end = local.replace(hour=self.end // 60, minute=self.end % 60, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(UTC)


class Pacer(Protocol):
    """What the worker needs of a lane's pace."""

    resume_at: float  # time.monotonic() before which this process sends nothing on the lane

    def hold(self, seconds: float) -> None:
        """The platform said "retry after ``seconds``"."""

    async def take(self, most: int) -> int:
        """Wait until at least one send is allowed; take up to ``most`` and return how many."""

    async def ready(self, most: int) -> int:
        """Wait until sends may be prepared; return how many (at most ``most``). Each then
        waits for its ``turn()`` right before its platform call."""

    async def turn(self) -> None:
        """Wait for the moment of one send prepared after ``ready()``."""


def default_burst(rate: float) -> float:
    """Sends a lane may save up: a fifth of a second's worth, at least one."""
    return max(1.0, rate / 5)


class Pace:
    """A token bucket: ``rate`` sends per second (0 = no limit), and pauses a platform asks for.

    The bucket holds at most ``burst`` tokens, so a lane idle for a while does not flood the
    platform when work arrives.
    """

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else default_burst(rate)
        self.tokens = 1.0
        self.stamp = time.monotonic()
        self.resume_at = 0.0

    def hold(self, seconds: float) -> None:
        """The platform said "retry after ``seconds``": send nothing on this lane until then."""
        self.resume_at = max(self.resume_at, time.monotonic() + max(0.0, seconds))
        self.tokens = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, most: int) -> int:
        """Wait until at least one send is allowed; take up to ``most`` and return how many."""
        while True:
            now = time.monotonic()
            if now < self.resume_at:
                await asyncio.sleep(self.resume_at - now)
                self.stamp = time.monotonic()
                continue
            if self.rate <= 0:
                return most
            self._refill(now)
            if self.tokens >= 1.0:
                n = max(1, min(most, int(self.tokens)))
                self.tokens -= n
                return n
            await asyncio.sleep((1.0 - self.tokens) / self.rate)

    async def ready(self, most: int) -> int:
        """Take up to ``most`` sends: they may start at once."""
        return await self.take(most)

    async def turn(self) -> None:
        """Sends taken by ``ready()`` start at once."""


# A shared lane's slots are reserved at most this far ahead (``storage/repos/lanes.py``): a
# process prepares its next sends when their slots are that close, so a commit slower than
# this makes them late.
HORIZON = 0.25
# Reserved slots not used within this long are given up.
STALE = 1.0


class SharedPace:
    """A lane's schedule of send slots in PostgreSQL (``storage/repos/lanes.py``), shared by
    every process.

    ``ready`` lets the worker prepare sends (commit them ``sending``) when the lane's next slot
    is about a horizon away; then each send's ``turn`` reserves its slot
    (the sends waiting together share one short transaction on the database's clock) and
    sleeps until it. The schedule is made by reserving, not by sending: a process that lags
    sends its own messages late, but the lane's slots keep coming at ``rate`` to whoever asks,
    and a slow commit before the reservation delays nothing. Up to ``allowance`` seconds (one
    slot by default) missed by every process may be caught up. A pause asked by the platform is
    written there too, so every process waits it out (slots reserved before it are at most a
    horizon's worth).
    """

    def __init__(
        self,
        db: Database,
        lane: str,
        rate: float,
        *,
        allowance: float | None = None,
        horizon: float = HORIZON,
    ) -> None:
        self.db = db
        self.lane = lane[:64]
        self.rate = rate
        self.allowance = allowance if allowance is not None else 1.0 / rate if rate > 0 else 0.0
        self.horizon = horizon
        self.ahead = max(1, int(horizon * rate) + 1)  # sends prepared at a time, at most
        self.resume_at = 0.0
        self._ask_at = 0.0  # time.monotonic() before which the lane has no slot for us
        self._prepared_at = 0.0  # when ready() last returned
        self._slots: deque[float] = deque()  # reserved, not yet handed to a send
        self._waiting = 0  # sends waiting in turn() for a slot
        self._asking = asyncio.Lock()
        self._writes: set[asyncio.Task[None]] = set()

    def hold(self, seconds: float) -> None:
        """Pause this process at once, and every process through the lane's row."""
        self.resume_at = max(self.resume_at, time.monotonic() + max(0.0, seconds))
        self._slots.clear()
        task = asyncio.ensure_future(self._hold(seconds))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _hold(self, seconds: float) -> None:
        from storage.repos.lanes import LaneRepo

        try:
            async with self.db.transaction() as session:
                await LaneRepo(session).hold(self.lane, seconds)
        except Exception:
            log.exception("could not share the pause of lane %s", self.lane)

    async def ready(self, most: int) -> int:
        """Wait until the lane's next slot for us is within the horizon; return how many sends
        to prepare: what the rate allows since the last time (at least one, at most a
        horizon's worth and ``most``), so that a process slow to prepare them catches up."""
        while True:
            now = time.monotonic()
            if now < self.resume_at:
                await asyncio.sleep(self.resume_at - now)
                continue
            if self.rate <= 0:
                return most
            if now >= self._ask_at:
                since = round((now - self._prepared_at) * self.rate)
                n = min(most, self.ahead, max(1, since))
                self._prepared_at = now
                self._ask_at = now + n / self.rate  # until their turns reserve the real slots
                return n
            await asyncio.sleep(self._ask_at - now)

    async def turn(self) -> None:
        """Reserve the next slot of the lane (with the other sends waiting) and sleep until it."""
        if self.rate <= 0:
            return
        self._waiting += 1
        try:
            while True:
                now = time.monotonic()
                if now < self.resume_at:
                    await asyncio.sleep(self.resume_at - now)
                    continue
                while self._slots and self._slots[0] < now - STALE:
                    self._slots.popleft()
                if self._slots:
                    start = self._slots.popleft()
                    break
                wait = 0.0
                async with self._asking:  # one reservation per process at a time
                    if not self._slots:
                        wait = await self._reserve(self._waiting)
                if wait > 0:
                    await asyncio.sleep(min(1.0, wait))
        finally:
            self._waiting -= 1
        delay = start - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def take(self, most: int) -> int:
        """Wait for the lane's next slot; one send may start then."""
        while True:
            await self.turn()
            if time.monotonic() >= self.resume_at:  # else paused meanwhile: the slot is lost
                return 1

    async def _reserve(self, most: int) -> float:
        """Reserve up to ``most`` slots starting within the horizon; returns how long to wait
        before asking again when none was granted."""
        from storage.repos.lanes import LaneRepo

        async with self.db.transaction() as session:
            slot = await LaneRepo(session).reserve(
                self.lane, self.rate, most, allowance=self.allowance, horizon=self.horizon
            )
        now = time.monotonic()
        if not slot.granted:
            self._ask_at = now + slot.wait
            return max(0.002, slot.wait)
        self._slots.extend(now + slot.wait + i / self.rate for i in range(slot.granted))
        # The slot after ours comes within the horizon then (unless someone else takes it).
        self._ask_at = self._slots[-1] + 1.0 / self.rate - self.horizon
        return 0.0


_WHEN = re.compile(
    r"^\s*(?:(?P<iso>\d{4}-\d{1,2}-\d{1,2})[ T])?(?P<h>\d{1,2})[:hg](?P<m>\d{2})?"
    r"(?:\s+(?P<d>\d{1,2})[/-](?P<mo>\d{1,2})(?:[/-](?P<y>\d{4}))?)?\s*$",
    re.IGNORECASE,
)


def parse_when(text: str, now: datetime, tz: tzinfo) -> datetime | None:
    """A local time typed by a person, as aware UTC; None when it is not a time.

    Accepts "08:00" or "8h" (today, or tomorrow when that hour has passed), "08:00 25/12"
    (this year, or next year when past), "08:00 25/12/2026" and "2026-12-25 08:00".
    """
    match = _WHEN.match(text)
    if match is None:
        return None
    hour, minute = int(match["h"]), int(match["m"] or 0)
    if hour > 23 or minute > 59:
        return None
    local_now = now.astimezone(tz)
    try:
        if match["iso"]:
            year, month, day = (int(p) for p in match["iso"].split("-"))
            moment = datetime(year, month, day, hour, minute, tzinfo=tz)
        elif match["d"]:
            year = int(match["y"]) if match["y"] else local_now.year
            moment = datetime(year, int(match["mo"]), int(match["d"]), hour, minute, tzinfo=tz)
            if not match["y"] and moment < local_now:
                moment = moment.replace(year=year + 1)
        else:
            moment = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if moment < local_now:
                moment += timedelta(days=1)
    except ValueError:
        return None
    return moment.astimezone(UTC)
