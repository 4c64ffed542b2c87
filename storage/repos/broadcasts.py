"""Broadcasts: audiences, creation, opt-outs, and the delivery worker's claims and results.

Every state change of a delivery row is a conditional UPDATE (``WHERE state = ... AND
claimed_by = owner``), so a worker that lost its lease can never overwrite another's work, and a
row is claimed by one worker only: on PostgreSQL the claim selects with ``FOR UPDATE SKIP
LOCKED`` (several processes split one broadcast), on SQLite the claiming UPDATE is one statement
under the database's single write lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    CursorResult,
    Select,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

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
    CANCELLED,
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
from storage.repos.lists import among, chunks

D = BroadcastDelivery


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Audience:
    """Who a broadcast goes to: a team's citizens (or every citizen), maybe only those missing a
    skill."""

    team_id: int | None
    skill_id: str | None = None
    only_missing: bool = False


@dataclass(frozen=True)
class AudienceCount:
    """How many citizens an audience has, and how many of them would be skipped (and why)."""

    total: int
    opted_out: int
    unreachable: int

    @property
    def reachable(self) -> int:
        """Citizens the message would really be sent to."""
        return self.total - self.opted_out - self.unreachable


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


@dataclass(frozen=True)
class Outcome:
    """The result of one platform call, to be recorded.

    ``state`` is ``sent``, ``failed``, ``skipped`` or ``pending`` (try again at ``retry_at``;
    ``counted`` False when the platform only asked us to slow down).
    """

    id: int
    state: str
    reason: str | None = None
    retry_at: datetime | None = None
    counted: bool = True
    blocked_user: int | None = None


def _passed(skill_id: str) -> Any:
    return exists().where(SkillCompletion.user_id == User.id, SkillCompletion.skill_id == skill_id)


def _opted_out() -> Any:
    return exists().where(BroadcastOptOut.user_id == User.id)


class BroadcastRepo:
    """Broadcast queries within one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._pg = session.get_bind().dialect.name == "postgresql"

    def _among(self, column: Any, ids: Sequence[int]) -> Any:
        """``column IN ids`` (at most ``MAX_LIST`` ids; see ``storage/repos/lists.py``)."""
        return among(column, ids, self._pg)

    # --- audiences and creation -------------------------------------------------------------

    def audience_query(self, audience: Audience) -> Select[int, str]:
        """User id and channel of every citizen (who consented) in the audience: the team's
        citizens as the teams feature defines them, maybe only those who have not passed the
        skill."""
        from storage.repos.teams import TeamRepo

        citizens = TeamRepo(self.session).citizens_query(audience.team_id)
        query = citizens.with_only_columns(User.id, User.channel)
        if audience.only_missing and audience.skill_id:
            query = query.where(~_passed(audience.skill_id))
        return query

    async def count(self, audience: Audience) -> AudienceCount:
        """The size of an audience, and who in it would be skipped (counted in SQL)."""
        out = _opted_out()
        gone = User.unreachable_at.is_not(None)
        query = (
            self.audience_query(audience)
            .with_only_columns(
                func.count(),
                func.sum(case((out, 1), else_=0)),
                func.sum(case((and_(gone, ~out), 1), else_=0)),
            )
            .order_by(None)
        )
        total, opted, unreachable = (await self.session.execute(query)).one()
        return AudienceCount(
            total=int(total or 0), opted_out=int(opted or 0), unreachable=int(unreachable or 0)
        )

    async def create(
        self,
        audience: Audience,
        *,
        kind: str,
        title: str,
        body: str,
        scheduled_at: datetime,
        created_by: int | None,
        now: datetime | None = None,
    ) -> Broadcast:
        """Create a broadcast and one delivery row per citizen of the audience (one statement).

        Citizens who opted out or blocked the bot get a row too, already ``skipped`` with the
        reason, so the report accounts for everyone.
        """
        now = now or utcnow()
        broadcast = Broadcast(
            team_id=audience.team_id,
            kind=kind,
            skill_id=audience.skill_id,
            title=title[:200],
            body=body,
            audience=AUDIENCE_MISSING if audience.only_missing else "all",
            scheduled_at=scheduled_at,
            created_by=created_by,
            created_at=now,
            status=ACTIVE,
        )
        self.session.add(broadcast)
        await self.session.flush()
        out = _opted_out()
        gone = User.unreachable_at.is_not(None)
        rows = self.audience_query(audience).with_only_columns(
            literal(broadcast.id),
            User.id,
            User.channel,
            case((out, SKIPPED), (gone, SKIPPED), else_=PENDING),
            case((out, OPTED_OUT), (gone, UNREACHABLE), else_=None),
            literal(0),
            literal(now, type_=D.next_attempt_at.type),
            literal(now, type_=D.updated_at.type),
        )
        await self.session.execute(
            insert(D).from_select(
                [
                    "broadcast_id",
                    "user_id",
                    "channel",
                    "state",
                    "reason",
                    "attempts",
                    "next_attempt_at",
                    "updated_at",
                ],
                rows,
            )
        )
        return broadcast

    async def get(self, broadcast_id: int) -> Broadcast | None:
        """A broadcast by id."""
        return await self.session.get(Broadcast, broadcast_id)

    async def recent(self, limit: int = 20, team_id: int | None = None) -> list[Broadcast]:
        """The newest broadcasts (of one team when given)."""
        query = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
        if team_id is not None:
            query = query.where(Broadcast.team_id == team_id)
        return list((await self.session.execute(query)).scalars())

    async def tally(self, broadcast_id: int) -> dict[str, int]:
        """Deliveries per state, and per ``state:reason`` for failed and skipped ones."""
        rows = await self.session.execute(
            select(D.state, D.reason, func.count())
            .where(D.broadcast_id == broadcast_id)
            .group_by(D.state, D.reason)
        )
        out: dict[str, int] = {}
        for state, reason, n in rows.all():
            out[state] = out.get(state, 0) + int(n)
            if reason:
                out[f"{state}:{reason}"] = out.get(f"{state}:{reason}", 0) + int(n)
        return out

    async def cancel(self, broadcast_id: int, now: datetime | None = None) -> bool:
        """Stop a broadcast: what was not sent yet is skipped. False if it was already over."""
        now = now or utcnow()
        result = await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == ACTIVE)
            .values(status=CANCELLED, finished_at=now)
        )
        if not _rowcount(result):
            return False
        await self.session.execute(
            update(D)
            .where(D.broadcast_id == broadcast_id, D.state == PENDING)
            .values(state=SKIPPED, reason=CANCELLED_REASON, updated_at=now)
        )
        return True

    # --- opt-out ------------------------------------------------------------------------------

    async def opt_out(self, user_id: int, now: datetime | None = None) -> bool:
        """Stop broadcasts to this user; False if they had already opted out."""
        if await self.session.get(BroadcastOptOut, user_id) is not None:
            return False
        self.session.add(BroadcastOptOut(user_id=user_id, at=now or utcnow()))
        await self.session.flush()
        return True

    async def opt_in(self, user_id: int) -> bool:
        """Receive broadcasts again; False if they had not opted out."""
        result = await self.session.execute(
            delete(BroadcastOptOut).where(BroadcastOptOut.user_id == user_id)
        )
        return bool(_rowcount(result))

    async def opted_out(self, user_id: int) -> bool:
        """Whether this user opted out."""
        return await self.session.get(BroadcastOptOut, user_id) is not None

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
        query = (
            select(
                D.id,
                D.broadcast_id,
                D.user_id,
                D.channel,
                D.attempts,
                User.external_id,
                User.consent_at.is_not(None),
                User.unreachable_at.is_not(None),
                _opted_out(),
                Broadcast.status,
                and_(Broadcast.audience == AUDIENCE_MISSING, _passed_for_broadcast()),
            )
            .join(User, User.id == D.user_id)
            .join(Broadcast, Broadcast.id == D.broadcast_id)
            .where(self._among(D.id, ids), D.state == CLAIMED, D.claimed_by == owner)
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
        for reason in set(skips.values()):
            await self.session.execute(
                update(D)
                .where(self._among(D.id, [i for i, r in skips.items() if r == reason]))
                .values(state=SKIPPED, reason=reason, updated_at=now)
            )
        if ready:
            result = await self.session.execute(
                update(D)
                .where(
                    self._among(D.id, [r.id for r in ready]),
                    D.state == CLAIMED,
                    D.claimed_by == owner,
                )
                .values(state=SENDING, attempts=D.attempts + 1, claimed_at=now, updated_at=now)
                .returning(D.id)
                .execution_options(synchronize_session=False)
            )
            held = {row[0] for row in result.all()}
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
                    values["attempts"] = D.attempts - 1
            for block in chunks(ids):
                await self.session.execute(
                    update(D)
                    .where(self._among(D.id, block), D.state == SENDING, D.claimed_by == owner)
                    .values(**values)
                )
        for block in chunks(blocked):
            await self.session.execute(
                update(User)
                .where(self._among(User.id, block), User.unreachable_at.is_(None))
                .values(unreachable_at=now)
            )

    async def release(self, owner: str, ids: Sequence[int] | None = None) -> int:
        """Give back claimed rows not sent yet (all of this owner's when ``ids`` is None)."""
        query = update(D).where(D.claimed_by == owner, D.state == CLAIMED)
        values = {"state": PENDING, "claimed_by": None, "claimed_at": None}
        if ids is None:
            return _rowcount(await self.session.execute(query.values(**values)))
        released = 0
        for block in chunks(ids):
            result = await self.session.execute(
                query.where(self._among(D.id, block)).values(**values)
            )
            released += _rowcount(result)
        return released

    async def unstart(self, owner: str, ids: Sequence[int]) -> int:
        """Back to pending: rows marked ``sending`` whose platform call was never started (the
        worker could not tell whether marking them had committed)."""
        if not ids:
            return 0
        result = await self.session.execute(
            update(D)
            .where(self._among(D.id, ids), D.state == SENDING, D.claimed_by == owner)
            .values(state=PENDING, claimed_by=None, claimed_at=None, attempts=D.attempts - 1)
        )
        return _rowcount(result)

    async def renew(self, owner: str, now: datetime) -> int:
        """Extend the lease of every row this owner holds."""
        result = await self.session.execute(
            update(D)
            .where(D.claimed_by == owner, D.state.in_((CLAIMED, SENDING)))
            .values(claimed_at=now)
        )
        return _rowcount(result)

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
        return _rowcount(freed), _rowcount(lost)

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
            if _rowcount(result):
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


def _passed_for_broadcast() -> Any:
    """Whether the row's citizen passed the row's broadcast skill (inside ``start_sending``)."""
    return exists().where(
        SkillCompletion.user_id == D.user_id,
        SkillCompletion.skill_id == Broadcast.skill_id,
    )


__all__ = [
    "Audience",
    "AudienceCount",
    "BroadcastRepo",
    "Claimed",
    "Outcome",
    "Ready",
]
