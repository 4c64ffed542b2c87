"""The broadcast delivery worker's side of the broadcasts repository: claims and results.

Every state change of a delivery row is a conditional UPDATE (``WHERE state = ... AND
claimed_by = owner``), so a worker that lost its lease can never overwrite another's work, and a
row is claimed by one worker only: on PostgreSQL the claim selects with ``FOR UPDATE SKIP
LOCKED`` (several processes split one broadcast), on SQLite the claiming UPDATE is one statement
under the database's single write lock. ``BroadcastRepo`` (``storage/repos/broadcasts.py``)
inherits these methods; callers use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, exists, select, update

from storage.models import (
    Broadcast,
    BroadcastDelivery,
    BroadcastOptOut,
    SkillCompletion,
    User,
    utcnow,
)
from storage.models.broadcasts import (
    ACTIVE,
    ALREADY_PASSED,
    AUDIENCE_MISSING,
    CANCELLED_REASON,
    CLAIMED,
    DONE,
    FAILED,
    INTERRUPTED,
    NO_CONSENT,
    OPEN_STATES,
    OPTED_OUT,
    PENDING,
    SENDING,
    SENT,
    SKIPPED,
    UNREACHABLE,
)
from storage.repos.leases import LeasedRows, Outcome, rowcount
from storage.repos.lists import chunks

D = BroadcastDelivery
# The worker's statements use the tables, not the mapped classes: plain SQL, no ORM compile
# state, session synchronisation or autoflush for rows that are never loaded as objects.
DT = cast(Table, D.__table__).c
USERS = cast(Table, User.__table__).c
BROADCASTS = cast(Table, Broadcast.__table__).c


@dataclass(frozen=True)
class Claimed:
    """A delivery row a worker took: enough to send it without another query."""

    id: int
    broadcast_id: int
    user_id: int
    channel: str
    attempts: int


@dataclass(frozen=True)
class Ready:
    """A claimed row now marked ``sending``, with its user's address on the channel."""

    id: int
    broadcast_id: int
    user_id: int
    channel: str
    external_id: str
    attempts: int


def _opted_out() -> Any:
    return exists().where(BroadcastOptOut.user_id == User.id)


def _passed_for_broadcast() -> Any:
    """Whether the row's citizen passed the row's broadcast skill (inside ``start_sending``)."""
    done = cast(Table, SkillCompletion.__table__).c
    return exists().where(done.user_id == DT.user_id, done.skill_id == BROADCASTS.skill_id)


class DeliveryClaims(LeasedRows):
    """The delivery worker's claims, sends, results and leases within one session."""

    model = D

    # --- the worker ---------------------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        channel: str,
        limit: int,
        now: datetime,
        *,
        skip_locked: bool,
    ) -> list[Claimed]:
        """Take up to ``limit`` due pending rows of one channel for ``owner``, oldest first."""
        due = (
            select(D.id)
            .join(Broadcast, Broadcast.id == D.broadcast_id)
            .where(
                D.state == PENDING,
                D.channel == channel,
                D.next_attempt_at <= now,
                Broadcast.status == ACTIVE,
                Broadcast.scheduled_at <= now,
            )
            .order_by(D.id)
            .limit(limit)
        )
        table = cast(Table, D.__table__)
        if skip_locked:
            # A materialized CTE runs the locking SELECT once. As ``id IN (SELECT ... LIMIT n
            # FOR UPDATE SKIP LOCKED)`` the planner may rescan the subquery, and every rescan
            # skips the rows already locked and returns the next n: one claim took a whole
            # broadcast (#18).
            picked = due.with_for_update(of=D, skip_locked=True).cte("due")
            chosen = table.c.id == picked.prefix_with("MATERIALIZED").c.id
        else:
            chosen = table.c.id.in_(due.scalar_subquery())
        result = await self.session.execute(
            update(table)
            .where(chosen, table.c.state == PENDING)
            .values(state=CLAIMED, claimed_by=owner, claimed_at=now, updated_at=now)
            .returning(
                table.c.id, table.c.broadcast_id, table.c.user_id, table.c.channel, table.c.attempts
            )
        )
        rows = [Claimed(*row) for row in result.all()]
        rows.sort(key=lambda r: r.id)
        return rows

    async def start_sending(
        self, owner: str, ids: Sequence[int], now: datetime
    ) -> tuple[list[Ready], dict[int, str]]:
        """Mark claimed rows ``sending`` just before their platform call.

        Rows whose citizen opted out, blocked the bot, withdrew consent or (for "only those
        missing") passed the skill meanwhile, or whose broadcast was cancelled, are skipped
        instead. Returns the rows to send and the skip reasons by row id. Rows this owner no
        longer holds are in neither.
        """
        if not ids:
            return [], {}
        optouts = cast(Table, BroadcastOptOut.__table__).c
        query = (
            select(
                DT.id,
                DT.broadcast_id,
                DT.user_id,
                DT.channel,
                DT.attempts,
                USERS.external_id,
                USERS.consent_at.is_not(None),
                USERS.unreachable_at.is_not(None),
                exists().where(optouts.user_id == USERS.id),
                BROADCASTS.status,
                and_(BROADCASTS.audience == AUDIENCE_MISSING, _passed_for_broadcast()),
            )
            .join_from(DT.id.table, USERS.id.table, USERS.id == DT.user_id)
            .join(BROADCASTS.id.table, BROADCASTS.id == DT.broadcast_id)
            .where(self._among(DT.id, ids), DT.state == CLAIMED, DT.claimed_by == owner)
        )
        ready: list[Ready] = []
        skips: dict[int, str] = {}
        for row in (await self.session.execute(query)).all():
            (rid, bid, uid, channel, attempts, ext, consent, gone, out, status, passed) = row
            reason = (
                CANCELLED_REASON
                if status != ACTIVE
                else OPTED_OUT
                if out
                else UNREACHABLE
                if gone
                else NO_CONSENT
                if not consent
                else ALREADY_PASSED
                if passed
                else None
            )
            if reason is not None:
                skips[rid] = reason
            else:
                ready.append(Ready(rid, bid, uid, channel, ext, attempts + 1))
        table = DT.id.table
        for reason in set(skips.values()):
            await self.session.execute(
                update(table)
                .where(self._among(DT.id, [i for i, r in skips.items() if r == reason]))
                .values(state=SKIPPED, reason=reason, updated_at=now)
            )
        if ready:
            result = await self.session.execute(
                update(table)
                .where(
                    self._among(DT.id, [r.id for r in ready]),
                    DT.state == CLAIMED,
                    DT.claimed_by == owner,
                )
                .values(state=SENDING, attempts=DT.attempts + 1, claimed_at=now, updated_at=now)
                .returning(DT.id)
            )
            held = set(result.scalars())
            ready = [r for r in ready if r.id in held]
        return ready, skips

    async def record(self, owner: str, outcomes: Iterable[Outcome], now: datetime) -> None:
        """Record platform results of rows this owner is sending."""
        groups: dict[tuple[str, str | None, datetime | None, bool], list[int]] = {}
        blocked: list[int] = []
        for o in outcomes:
            groups.setdefault((o.state, o.reason, o.retry_at, o.counted), []).append(o.id)
            if o.blocked_user is not None:
                blocked.append(o.blocked_user)
        for (state, reason, retry_at, counted), ids in groups.items():
            values: dict[str, Any] = {"state": state, "reason": reason, "updated_at": now}
            if state == SENT:
                values["sent_at"] = now
            if state == PENDING:
                values.update(
                    claimed_by=None, claimed_at=None, next_attempt_at=retry_at or now, reason=None
                )
                if not counted:
                    values["attempts"] = DT.attempts - 1
            for block in chunks(ids):
                await self.session.execute(
                    update(DT.id.table)
                    .where(self._among(DT.id, block), DT.state == SENDING, DT.claimed_by == owner)
                    .values(**values)
                )
            if state == PENDING:
                await self.drop_stopped(ids, now)
        for block in chunks(blocked):
            await self.session.execute(
                update(USERS.id.table)
                .where(self._among(USERS.id, block), USERS.unreachable_at.is_(None))
                .values(unreachable_at=now)
            )

    async def unstart(self, owner: str, ids: Sequence[int], now: datetime | None = None) -> int:
        """Back to pending: rows marked ``sending`` whose platform call was never started (the
        worker could not tell whether marking them had committed)."""
        if not ids:
            return 0
        result = await self.session.execute(
            update(DT.id.table)
            .where(self._among(DT.id, ids), DT.state == SENDING, DT.claimed_by == owner)
            .values(state=PENDING, claimed_by=None, claimed_at=None, attempts=DT.attempts - 1)
        )
        await self.drop_stopped(ids, now or utcnow())
        return rowcount(result)

    async def drop_stopped(self, ids: Sequence[int], now: datetime) -> None:
        """Rows of ``ids`` back to ``pending`` whose broadcast was cancelled meanwhile: skipped
        (``cancelled``), so that no row of a stopped broadcast waits for ever."""
        stopped = exists().where(BROADCASTS.id == DT.broadcast_id, BROADCASTS.status != ACTIVE)
        for block in chunks(list(ids)):
            await self.session.execute(
                update(DT.id.table)
                .where(self._among(DT.id, block), DT.state == PENDING, stopped)
                .values(state=SKIPPED, reason=CANCELLED_REASON, updated_at=now)
            )

    async def recover(self, now: datetime, lease: timedelta) -> tuple[int, int]:
        """Rows of workers that stopped renewing (killed): claimed ones go back to pending; ones
        whose platform call may have happened become ``failed: interrupted``, never resent."""
        cutoff = now - lease
        freed = await self.session.execute(
            update(D)
            .where(D.state == CLAIMED, D.claimed_at < cutoff)
            .values(state=PENDING, claimed_by=None, claimed_at=None, updated_at=now)
        )
        lost = await self.session.execute(
            update(D)
            .where(D.state == SENDING, D.claimed_at < cutoff)
            .values(state=FAILED, reason=INTERRUPTED, updated_at=now)
        )
        return rowcount(freed), rowcount(lost)

    async def finish(self, now: datetime) -> list[Broadcast]:
        """Mark done the active broadcasts with nothing left to send; returns those this call
        finished (exactly one caller finishes each, so one report is sent)."""
        open_rows = exists().where(D.broadcast_id == Broadcast.id, D.state.in_(OPEN_STATES))
        candidates = (
            (
                await self.session.execute(
                    select(Broadcast.id).where(
                        Broadcast.status == ACTIVE, Broadcast.scheduled_at <= now, ~open_rows
                    )
                )
            )
            .scalars()
            .all()
        )
        done: list[Broadcast] = []
        for bid in candidates:
            result: CursorResult[Any] = await self.session.execute(  # type: ignore[assignment]
                update(Broadcast)
                .where(Broadcast.id == bid, Broadcast.status == ACTIVE, ~open_rows)
                .values(status=DONE, finished_at=now)
            )
            if rowcount(result):
                broadcast = await self.session.get(Broadcast, bid)
                if broadcast is not None:
                    await self.session.refresh(broadcast)
                    done.append(broadcast)
        return done

    async def pending_channels(self, now: datetime) -> list[str]:
        """Channels with deliveries due now."""
        rows = await self.session.execute(
            select(D.channel)
            .join(Broadcast, Broadcast.id == D.broadcast_id)
            .where(
                D.state == PENDING,
                D.next_attempt_at <= now,
                Broadcast.status == ACTIVE,
                Broadcast.scheduled_at <= now,
            )
            .distinct()
        )
        return sorted(rows.scalars().all())
