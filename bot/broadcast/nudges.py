"""The nudge worker: sends due reminders and review questions, exactly once, on the broadcast
worker's rails (``bot/broadcast/worker.py``).

A nudge row moves like a broadcast delivery::

    pending (due_at) --claim--> claimed --checks, commit--> sending --platform call-->
        sent | failed(reason) | pending again (429 / nothing sent, bounded) | skipped(reason)
        | window (Zalo OA outside its 7-day window: waits for the citizen to write again)

- Every rule is checked again when the row is marked ``sending`` (``NudgeRepo.start_sending``):
  the lesson still unfinished and idle, the skill still passed, consent, reachability, "dừng
  nhận tin", "tắt nhắc", Zalo's window; nothing is claimed in quiet hours.
- ``sending`` is committed before the platform call and the result right after it, both in
  tasks that cancellation cannot interrupt; a call whose answer never came (``Uncertain``) or
  that a killed worker left behind (found after the lease by ``recover``) is never repeated.
- Several processes may run it on one database: claims use ``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL and a single UPDATE under SQLite's write lock. It shares the broadcast worker's
  lanes (``BroadcastWorker.pace``), so reminders and broadcasts together keep each channel's
  pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcast.nudge_text import reminder_reply, review_questions, review_reply
from bot.broadcast.timing import Pacer, QuietHours
from bot.broadcast.worker import BroadcastWorker, Writer, uninterruptible
from bot.core.dispatcher import tokenise
from bot.core.ports import DeliveryError, NotAllowed, RetryAfter, Uncertain, Unreachable
from storage.models.broadcasts import BLOCKED, ERROR, FAILED, PENDING, SENT, SKIPPED, UNCERTAIN
from storage.models.nudges import GONE, REMINDER, WINDOW
from storage.repos.conversation import ConversationRepo
from storage.repos.leases import Outcome
from storage.repos.nudges import (
    ZALO_WINDOW_REASON,
    NudgeClaimed,
    NudgeReady,
    NudgeRepo,
)

if TYPE_CHECKING:
    from bot.config import BroadcastConfig, NudgesConfig
    from bot.content.snapshot import Snapshot
    from bot.core.ports import Outbound
    from bot.core.replies import Reply
    from bot.core.services import Services

log = logging.getLogger(__name__)


class NudgeWorker:
    """Delivers reminders and review questions from this process."""

    def __init__(
        self,
        services: Services,
        channels: Mapping[str, Outbound],
        *,
        config: NudgesConfig | None = None,
        broadcast: BroadcastConfig | None = None,
        lanes: BroadcastWorker | None = None,
        owner: str | None = None,
    ) -> None:
        self.services = services
        self.channels = channels
        self.config = config or services.config.nudges
        self.broadcast = broadcast or (lanes.config if lanes else services.config.broadcast)
        self.lanes = lanes or BroadcastWorker(services, channels, config=self.broadcast)
        self.owner = owner or (
            f"n:{socket.gethostname()[:28]}:{os.getpid()}:{secrets.token_hex(4)}"
        )
        b = self.broadcast
        self.quiet = QuietHours(b.quiet_start, b.quiet_end, b.timezone)
        self.lease = timedelta(seconds=b.lease_seconds)
        self.after = timedelta(days=self.config.after_days)
        self.write = Writer(services)
        self.sent = 0

    async def run(self) -> None:
        """Work until cancelled: look for due nudges every ``nudges.poll_interval`` seconds."""
        log.info("nudge worker %s started", self.owner)
        try:
            while True:
                try:
                    await self.run_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("nudge worker step failed; will retry")
                await asyncio.sleep(self.config.poll_interval)
        finally:
            await uninterruptible(self.write.settle())

    async def run_once(self) -> int:
        """Recover dead workers' rows, re-arm rows whose Zalo window reopened, and send
        everything due now (outside quiet hours). Returns how many messages were sent."""
        before = self.sent
        now = self.services.clock()
        freed, lost = await self.write(lambda s: NudgeRepo(s).recover(now, self.lease))
        if freed or lost:
            log.warning("recovered %d unsent and %d interrupted nudges", freed, lost)
        await self.write(lambda s: NudgeRepo(s).rearm(now))
        if self.quiet.active(now):
            return 0
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while not self.quiet.active(self.services.clock()):
                claimed = await uninterruptible(self._claim())
                if not claimed:
                    break
                await self._batch(claimed)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            await uninterruptible(self._release())
        return self.sent - before

    async def _claim(self) -> list[NudgeClaimed]:
        now = self.services.clock()
        names = sorted(self.channels)

        async def claim(session: AsyncSession) -> list[NudgeClaimed]:
            return await NudgeRepo(session).claim(
                self.owner,
                names,
                self.config.batch_size,
                now,
                skip_locked=not self.services.db.is_sqlite,
            )

        return await self.write(claim)

    async def _release(self) -> None:
        try:
            await self.write(lambda s: NudgeRepo(s).release(self.owner))
        except Exception:
            log.exception("could not give back claimed nudges")

    async def _heartbeat(self) -> None:
        interval = max(0.05, self.broadcast.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.write(self._renew)
            except Exception:
                log.exception("nudge lease renewal failed")

    async def _renew(self, session: AsyncSession) -> int:
        return await NudgeRepo(session).renew(self.owner, self.services.clock())

    async def _batch(self, claimed: Sequence[NudgeClaimed]) -> None:
        """Check and mark a claimed batch ``sending``, then send each message once."""
        if self.quiet.active(self.services.clock()):
            return  # given back by run_once's release
        started = await uninterruptible(self._begin(claimed))
        for row, reply in started:
            await uninterruptible(self._send(row, reply))

    async def _begin(self, claimed: Sequence[NudgeClaimed]) -> list[tuple[NudgeReady, Reply]]:
        now = self.services.clock()
        snapshot = self.services.store.current
        ids = [c.id for c in claimed]

        async def begin(session: AsyncSession) -> list[tuple[NudgeReady, Reply]]:
            repo = NudgeRepo(session)
            ready, _reasons = await repo.start_sending(self.owner, ids, now, self.after)
            conversation = ConversationRepo(session)
            states = await conversation.states(r.user_id for r in ready)
            out: list[tuple[NudgeReady, Reply]] = []
            gone: list[Outcome] = []
            for row in ready:
                reply = self._compose(snapshot, row)
                if reply is None:
                    gone.append(Outcome(row.id, SKIPPED, GONE))
                    continue
                tokens = await tokenise([reply], row.user_id, states[row.user_id], conversation)
                out.append((row, tokens[0]))
            if gone:
                await repo.record(self.owner, gone, now)
            return out

        try:
            return await self.write(begin)
        except Exception:
            # Maybe committed, maybe not: no call was started, so these rows may go back.
            with contextlib.suppress(Exception):
                await self.write(lambda s: NudgeRepo(s).unstart(self.owner, ids))
            raise

    def _compose(self, snapshot: Snapshot, row: NudgeReady) -> Reply | None:
        """The message of a nudge from the current content; None when its skill is gone."""
        skill = snapshot.lessons.get(row.skill_id)
        if skill is None:
            return None
        if row.kind == REMINDER:
            return reminder_reply(snapshot.messages, skill)
        questions = review_questions(skill, row.step, self.config.review_questions)
        if not questions:
            return None
        return review_reply(snapshot.messages, skill, row.id, questions[0], first=True)

    async def _send(self, row: NudgeReady, reply: Reply) -> None:
        """One platform call and its result, recorded at once."""
        channel = self.channels[row.channel]
        pace = self.lanes.pace(row.channel)
        lane = self.lanes.lane_pace(channel, row.external_id)
        outcome = await self._call(channel, lane or pace, row, reply)
        now = self.services.clock()
        try:
            await self.write(lambda s: NudgeRepo(s).record(self.owner, [outcome], now))
        except Exception:
            # Left ``sending``: after the lease, recover() makes it failed, never sent again.
            log.exception("could not record nudge %s", row.id)

    async def _call(self, channel: Outbound, lane: Pacer, row: NudgeReady, reply: Reply) -> Outcome:
        held = lane.resume_at - time.monotonic()
        if held > 0:  # the lane was told to slow down: no call, due again later
            retry_at = self.services.clock() + timedelta(seconds=held)
            return Outcome(row.id, PENDING, retry_at=retry_at, counted=False)
        await lane.take(1)
        try:
            await channel.send(row.external_id, [reply])
        except NotAllowed as exc:
            if exc.reason == ZALO_WINDOW_REASON:  # wait for the citizen to write again
                return Outcome(row.id, WINDOW, ZALO_WINDOW_REASON)
            return Outcome(row.id, SKIPPED, exc.reason[:32])
        except RetryAfter as exc:
            lane.hold(exc.seconds)
            retry_at = self.services.clock() + timedelta(seconds=exc.seconds)
            return Outcome(row.id, PENDING, retry_at=retry_at, counted=False)
        except Unreachable:
            return Outcome(row.id, FAILED, BLOCKED, blocked_user=row.user_id)
        except Uncertain as exc:
            log.warning("nudge %s: no answer from the platform (%s)", row.id, exc)
            return Outcome(row.id, FAILED, UNCERTAIN)
        except DeliveryError as exc:
            if row.attempts >= self.broadcast.max_attempts:
                log.warning("nudge %s failed for good: %s", row.id, exc)
                return Outcome(row.id, FAILED, ERROR)
            delay = self.broadcast.retry_delay * 2 ** (row.attempts - 1)
            retry_at = self.services.clock() + timedelta(seconds=delay)
            return Outcome(row.id, PENDING, retry_at=retry_at)
        except Exception:
            log.exception("nudge %s: unexpected error from the channel", row.id)
            return Outcome(row.id, FAILED, ERROR)
        self.sent += 1
        return Outcome(row.id, SENT)
