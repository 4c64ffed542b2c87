"""The broadcast worker: sends due deliveries at each channel's pace, exactly once.

How a delivery row moves (see ``storage/models/broadcasts.py``)::

    pending --claim (batch, one transaction)--> claimed --commit--> sending --platform call-->
        sent | failed(reason) | pending again (429 / nothing sent, bounded) | skipped(reason)

Exactly once, through cancellation and crashes:

- A row is claimed by one worker only (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; a single
  UPDATE under SQLite's write lock), with the worker's ``owner`` id and a lease timestamp
  renewed by a heartbeat. Every later change is conditional on ``claimed_by = owner``.
- ``sending`` is committed *before* the platform call; the result is committed right after it.
  "Commit sending, then start the calls" and "call, then record the result" run in tasks that
  task cancellation cannot interrupt (``uninterruptible``): a worker cancelled at any await
  finishes the calls it started, records them, and gives back the rows it claimed but did not
  start. A restarted worker therefore sends each remaining message once, and nobody is missed.
- kill -9 (or power loss) cannot be shielded. After the lease expires, another worker (or the
  restarted process) puts the dead worker's ``claimed`` rows back to ``pending`` (they were never
  sent) and turns its ``sending`` rows into ``failed: interrupted``: the platform call of those
  may or may not have reached the citizen, and we choose never to send a second copy. That window
  holds only the calls in flight at the moment of the kill (at most ``MAX_IN_FLIGHT`` per
  channel; README "Broadcasts" gives what was measured), and the sender's report counts them
  separately.
- A platform call whose answer never came (a timeout or a connection lost after the request
  went out) is the same case: ``Uncertain``, recorded as ``failed: uncertain``, never retried by
  the channel or by the worker. Only errors that prove nothing was delivered (a refused
  connection, 429, a 502/503) are retried.

Writes from all lanes go through one group-commit writer, so SQLite sees one writer and few,
larger transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from bot.broadcast.compose import reply_for, report_text
from bot.broadcast.timing import Pace, Pacer, QuietHours, SharedPace
from bot.core.dispatcher import offer
from bot.core.ports import DeliveryError, NotAllowed, RetryAfter, Uncertain, Unreachable
from bot.core.replies import Reply
from storage.models import Broadcast
from storage.models.broadcasts import BLOCKED, ERROR, FAILED, PENDING, SENT, SKIPPED, UNCERTAIN
from storage.repos.broadcasts import BroadcastRepo, Claimed, Outcome, Ready
from storage.repos.conversation import ConversationRepo

if TYPE_CHECKING:
    from bot.config import BroadcastConfig
    from bot.core.ports import Outbound
    from bot.core.services import Services

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_IN_FLIGHT = 64  # platform calls running at once per channel
WRITE_ATTEMPTS = 6


async def uninterruptible(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to the end even if the caller is cancelled meanwhile; the cancellation is
    re-raised once it is done."""
    task = asyncio.ensure_future(coro)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


class Writer:
    """Group commit: concurrent writes are applied together in one transaction.

    The writes run in a task of their own (one per transaction, shared by every write queued
    before it starts), so cancelling a caller never cuts a transaction in half nor leaves
    another caller waiting.
    """

    def __init__(self, services: Services) -> None:
        self.db = services.db
        self._queue: list[tuple[Callable[[AsyncSession], Awaitable[Any]], asyncio.Future[Any]]]
        self._queue = []
        self._lock = asyncio.Lock()
        self._next: asyncio.Task[None] | None = None  # the drain that will take the queue
        self._drains: set[asyncio.Task[None]] = set()

    async def __call__(self, op: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Apply ``op`` in a transaction (shared with other concurrent writes)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((op, future))
        drain = self._next
        if drain is None:
            drain = self._next = asyncio.ensure_future(self._drain())
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        await asyncio.shield(drain)
        return future.result()

    async def settle(self) -> None:
        """Wait for writes still running (their callers may have been cancelled)."""
        while self._drains:
            await asyncio.wait(set(self._drains))

    async def _drain(self) -> None:
        async with self._lock:
            self._next = None  # writes queued from now on go to the next transaction
            batch, self._queue = self._queue, []
            try:
                await self._apply(batch)
            finally:
                for _, f in batch:
                    if not f.done():
                        f.set_exception(RuntimeError("write abandoned"))

    async def _apply(
        self, batch: list[tuple[Callable[[AsyncSession], Awaitable[Any]], asyncio.Future[Any]]]
    ) -> None:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                async with self.db.transaction() as session:
                    results = [await op(session) for op, _ in batch]
            except (OperationalError, StaleDataError, IntegrityError) as exc:
                if attempt == WRITE_ATTEMPTS:
                    for _, f in batch:
                        f.set_exception(exc)
                    return
                log.info("broadcast write conflict (%s); retrying", type(exc).__name__)
                await asyncio.sleep(0.02 * attempt)
                continue
            except Exception as exc:
                for _, f in batch:
                    f.set_exception(exc)
                return
            for (_, f), result in zip(batch, results, strict=True):
                f.set_result(result)
            return


class BroadcastWorker:
    """Delivers broadcasts from this process; several processes may share one database."""

    def __init__(
        self,
        services: Services,
        channels: Mapping[str, Outbound],
        *,
        config: BroadcastConfig | None = None,
        owner: str | None = None,
    ) -> None:
        self.services = services
        self.channels = channels
        self.config = config or services.config.broadcast
        self.owner = owner or (f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}")
        self.quiet = QuietHours(
            self.config.quiet_start, self.config.quiet_end, self.config.timezone
        )
        self.lease = timedelta(seconds=self.config.lease_seconds)
        self.write = Writer(services)
        self.paces: dict[str, Pacer] = {}
        self.sent = 0
        self._results: list[Outcome] = []
        self._unrecorded: list[Outcome] = []
        self._bodies: dict[int, Broadcast] = {}

    # --- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Work until cancelled: look for due broadcasts every ``poll_interval`` seconds."""
        log.info("broadcast worker %s started", self.owner)
        try:
            while True:
                try:
                    await self.run_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("broadcast worker step failed; will retry")
                await asyncio.sleep(self.config.poll_interval)
        finally:
            # Nothing may outlive the worker: the database is closed right after it stops.
            await uninterruptible(self.write.settle())

    async def run_once(self) -> int:
        """Recover dead workers' rows, send everything due now, finish and report broadcasts.

        Returns how many messages this call sent.
        """
        before = self.sent
        now = self.services.clock()
        freed, lost = await self.write(lambda s: BroadcastRepo(s).recover(now, self.lease))
        if freed or lost:
            log.warning("recovered %d unsent and %d interrupted broadcast deliveries", freed, lost)
        if not self.quiet.active(now):
            due = await self.write(lambda s: BroadcastRepo(s).pending_channels(now))
            lanes = [c for c in due if c in self.channels]
            if lanes:
                heartbeat = asyncio.create_task(self._heartbeat())
                try:
                    async with asyncio.TaskGroup() as group:
                        for name in lanes:
                            group.create_task(self._lane(name))
                finally:
                    heartbeat.cancel()
                    await asyncio.gather(heartbeat, return_exceptions=True)
                    await uninterruptible(self._release_all())
        await self._flush_unrecorded()
        await self._finish()
        return self.sent - before

    async def _release_all(self) -> None:
        """Give back anything this worker still holds unsent (every lane has ended)."""
        try:
            await self.write(lambda s: BroadcastRepo(s).release(self.owner))
        except Exception:
            log.exception("could not give back claimed deliveries")

    async def _heartbeat(self) -> None:
        interval = max(0.05, self.config.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.write(self._renew)
                await self._flush_unrecorded()
            except Exception:
                log.exception("broadcast lease renewal failed")

    async def _renew(self, session: AsyncSession) -> int:
        return await BroadcastRepo(session).renew(self.owner, self.services.clock())

    # --- one channel ----------------------------------------------------------------------------

    def pace(self, channel: str) -> Pacer:
        """The pace of a channel's lane (created on first use from
        ``broadcast.rate_per_second``)."""
        if channel not in self.paces:
            self.paces[channel] = self._new_pace(channel, self.config.rate_per_second.of(channel))
        return self.paces[channel]

    def _new_pace(self, lane: str, rate: float) -> Pacer:
        """A lane's pace: in PostgreSQL, shared by every process (one schedule row per
        lane); in this process on SQLite."""
        if rate > 0 and not self.services.db.is_sqlite:
            return SharedPace(self.services.db, lane, rate)
        return Pace(rate)

    async def _lane(self, name: str) -> None:
        """Send the due deliveries of one channel, batch by batch, until none is left."""
        channel = self.channels[name]
        pace = self.pace(name)
        queue: deque[Claimed] = deque()
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while True:
                now = self.services.clock()
                if self.quiet.active(now):
                    break
                if not queue:
                    # Claimed rows land in the queue even if we are cancelled meanwhile, so
                    # that the lane's end gives them back.
                    await uninterruptible(self._claim_into(queue, name, now))
                    if not queue:
                        break
                while len(in_flight) > MAX_IN_FLIGHT // 2:  # then start a sizeable group
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                n = await pace.ready(min(len(queue), MAX_IN_FLIGHT - len(in_flight)))
                group = [queue.popleft() for _ in range(n)]
                await uninterruptible(self._start(channel, pace, group, in_flight))
        finally:
            await uninterruptible(self._close_lane(queue, in_flight))

    async def _claim_into(self, queue: deque[Claimed], name: str, now: datetime) -> None:
        async def claim(session: AsyncSession) -> list[Claimed]:
            return await BroadcastRepo(session).claim(
                self.owner,
                name,
                self.config.batch_size,
                now,
                skip_locked=not self.services.db.is_sqlite,
            )

        queue.extend(await self.write(claim))

    async def _start(
        self,
        channel: Outbound,
        pace: Pacer,
        group: Sequence[Claimed],
        in_flight: set[asyncio.Task[None]],
    ) -> None:
        """Commit ``sending`` for a group (and record their buttons), then start their calls."""
        now = self.services.clock()
        snapshot = self.services.store.current

        async def begin(session: AsyncSession) -> list[tuple[Ready, Reply]]:
            repo = BroadcastRepo(session)
            ready, _skipped = await repo.start_sending(self.owner, [c.id for c in group], now)
            if not ready:
                return []
            conversation = ConversationRepo(session)
            replies: dict[int, Reply] = {}
            out = []
            last: dict[int, list[Any]] = {}
            for row in ready:
                reply = replies.get(row.broadcast_id)
                if reply is None:
                    broadcast = await self._broadcast(session, row.broadcast_id)
                    reply = replies[row.broadcast_id] = reply_for(snapshot, broadcast)
                tokens, buttons = await offer([reply], row.user_id, conversation)
                if buttons is not None:
                    last[row.user_id] = buttons
                out.append((row, tokens[0]))
            await conversation.remember(last, now)
            return out

        try:
            started = await self.write(begin)
        except Exception:
            # Maybe committed, maybe not: no call was started, so these rows may go back.
            ids = [c.id for c in group]
            with contextlib.suppress(Exception):
                await self.write(lambda s: BroadcastRepo(s).unstart(self.owner, ids))
            raise
        for row, reply in started:
            task = asyncio.create_task(self._send(channel, pace, row, reply))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)

    async def _broadcast(self, session: AsyncSession, broadcast_id: int) -> Broadcast:
        cached = self._bodies.get(broadcast_id)
        if cached is None:
            cached = await session.get(Broadcast, broadcast_id)
            if cached is None:  # deleted meanwhile; its rows are gone too (cascade)
                raise LookupError(f"broadcast {broadcast_id} vanished")
            session.expunge(cached)
            self._bodies[broadcast_id] = cached
        return cached

    def lane_pace(self, channel: Outbound, external_id: str) -> Pacer | None:
        """The pace of a recipient's lane inside a channel, for channels whose accounts have
        limits of their own (a Zalo OA each: ``channel.lane(external_id)`` gives its key and
        rate); None for channels with a single lane."""
        lane = getattr(channel, "lane", None)
        found = lane(external_id) if callable(lane) else None
        if found is None:
            return None
        key, rate = found
        if key not in self.paces:
            self.paces[key] = self._new_pace(key, rate)
        return self.paces[key]

    async def _send(self, channel: Outbound, pace: Pacer, row: Ready, reply: Reply) -> None:
        """One platform call, at its turn in the lane, and its result, recorded at once."""
        await pace.turn()
        lane = self.lane_pace(channel, row.external_id)
        held = max(pace.resume_at, lane.resume_at if lane is not None else 0.0) - time.monotonic()
        now = self.services.clock()
        if held > 0 or self.quiet.active(now):
            # The lane was told to slow down, or the night began, while this send waited for
            # its turn: no call, back in the queue.
            retry_at = now + timedelta(seconds=held) if held > 0 else self.quiet.ends(now)
            await self._record([Outcome(row.id, PENDING, retry_at=retry_at, counted=False)])
            return
        if lane is not None:
            await lane.take(1)
        try:
            await channel.send(row.external_id, [reply])
            outcome = Outcome(row.id, SENT)
            self.sent += 1
        except NotAllowed as exc:  # the platform's rules forbid it now: not tried, not retried
            outcome = Outcome(row.id, SKIPPED, exc.reason[:32])
        except RetryAfter as exc:
            (lane or pace).hold(exc.seconds)
            retry_at = self.services.clock() + timedelta(seconds=exc.seconds)
            outcome = Outcome(row.id, PENDING, retry_at=retry_at, counted=False)
        except Unreachable:
            outcome = Outcome(row.id, FAILED, BLOCKED, blocked_user=row.user_id)
        except Uncertain as exc:
            # It may have arrived: like a kill -9 during the call, never sent a second time.
            log.warning("broadcast delivery %s: no answer from the platform (%s)", row.id, exc)
            outcome = Outcome(row.id, FAILED, UNCERTAIN)
        except DeliveryError as exc:
            if row.attempts >= self.config.max_attempts:
                log.warning("broadcast delivery %s failed for good: %s", row.id, exc)
                outcome = Outcome(row.id, FAILED, ERROR)
            else:
                delay = self.config.retry_delay * 2 ** (row.attempts - 1)
                retry_at = self.services.clock() + timedelta(seconds=delay)
                outcome = Outcome(row.id, PENDING, retry_at=retry_at)
        except Exception:
            log.exception("broadcast delivery %s: unexpected error from the channel", row.id)
            outcome = Outcome(row.id, FAILED, ERROR)
        await self._record([outcome])

    async def _record(self, outcomes: list[Outcome]) -> None:
        """Record results; concurrent callers share one UPDATE per outcome kind.

        Results wait in ``_results``; the first write to run takes all of them (once, so a
        retried transaction records the same ones). If that write fails for good, what it took
        goes to ``_unrecorded`` and is tried again later.
        """
        self._results.extend(outcomes)
        taken: list[Outcome] | None = None

        async def flush(session: AsyncSession) -> None:
            nonlocal taken
            if taken is None:
                taken, self._results = self._results, []
            if taken:
                await BroadcastRepo(session).record(self.owner, taken, self.services.clock())

        try:
            await self.write(flush)
        except Exception:
            lost = taken or []
            log.exception("could not record %d broadcast results; keeping them", len(lost))
            self._unrecorded.extend(lost)

    async def _flush_unrecorded(self) -> None:
        if self._unrecorded:
            outcomes, self._unrecorded = self._unrecorded, []
            await self._record(outcomes)

    async def _close_lane(self, queue: deque[Claimed], in_flight: set[asyncio.Task[None]]) -> None:
        """Let started calls finish and record, and give back claimed rows not started."""
        if in_flight:
            await asyncio.wait(set(in_flight))
        if queue:
            ids = [c.id for c in queue]
            queue.clear()
            try:
                await self.write(lambda s: BroadcastRepo(s).release(self.owner, ids))
            except Exception:
                log.exception("could not give back %d claimed deliveries", len(ids))

    # --- the end of a broadcast -----------------------------------------------------------------

    async def _finish(self) -> None:
        """Close finished broadcasts and send each sender their report (once, by one worker)."""
        now = self.services.clock()

        async def close(session: AsyncSession) -> list[tuple[Broadcast, dict[str, int]]]:
            repo = BroadcastRepo(session)
            return [(b, await repo.tally(b.id)) for b in await repo.finish(now)]

        for broadcast, tally in await self.write(close):
            self._bodies.pop(broadcast.id, None)
            log.info("broadcast %s done: %s", broadcast.id, tally)
            if broadcast.created_by is None:
                continue
            text = report_text(self.services.store.current.messages, broadcast, tally)
            try:
                await self.services.deliver(broadcast.created_by, [Reply(text=text)])
            except Exception:
                log.exception("could not send the report of broadcast %s", broadcast.id)
