"""Broadcasts: audiences, creation and opt-outs; the delivery worker's claims and results are
in ``storage/repos/broadcast_claims.py`` (``BroadcastRepo`` inherits them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
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

from storage.models import (
    Broadcast,
    BroadcastOptOut,
    SkillCompletion,
    User,
    utcnow,
)
from storage.models.broadcasts import (
    ACTIVE,
    AUDIENCE_MISSING,
    CANCELLED,
    CANCELLED_REASON,
    CLAIMED,
    DRAFT,
    OPTED_OUT,
    PENDING,
    SKIPPED,
    UNREACHABLE,
)
from storage.repos.broadcast_claims import (
    Claimed,
    D,
    DeliveryClaims,
    Ready,
    _opted_out,
)
from storage.repos.leases import Outcome, rowcount


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


def archived_rows(archived: dict[str, int] | None) -> list[tuple[str, str | None, int]]:
    """``Broadcast.archived`` as (state, reason, count) rows, as the tally's query gives them."""
    rows: list[tuple[str, str | None, int]] = []
    for key, n in (archived or {}).items():
        state, _, reason = key.partition(":")
        rows.append((state, reason or None, int(n)))
    return rows


def _passed(skill_id: str) -> Any:
    return exists().where(SkillCompletion.user_id == User.id, SkillCompletion.skill_id == skill_id)


class BroadcastRepo(DeliveryClaims):
    """Broadcast queries within one session (the worker's claims and results inherited)."""

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
        """The size of an audience, and who in it would be skipped (counted in SQL).

        Opt-outs are joined (at most one row per citizen: a hash of the few opted out), not
        probed once per citizen: over a million citizens the probes' cost estimate also made
        PostgreSQL compile the query (JIT) for a second before running it.
        """
        out = BroadcastOptOut.user_id.is_not(None)
        gone = User.unreachable_at.is_not(None)
        query = (
            self.audience_query(audience)
            .outerjoin(BroadcastOptOut, BroadcastOptOut.user_id == User.id)
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
        """Deliveries per state, and per ``state:reason`` for failed and skipped ones: the rows
        still there plus those housekeeping pruned (``Broadcast.archived``)."""
        rows = await self.session.execute(
            select(D.state, D.reason, func.count())
            .where(D.broadcast_id == broadcast_id)
            .group_by(D.state, D.reason)
        )
        archived = await self.session.scalar(
            select(Broadcast.archived).where(Broadcast.id == broadcast_id)
        )
        counted = [*rows.all(), *archived_rows(archived)]
        out: dict[str, int] = {}
        for state, reason, n in counted:
            out[state] = out.get(state, 0) + int(n)
            if reason:
                out[f"{state}:{reason}"] = out.get(f"{state}:{reason}", 0) + int(n)
        return out

    async def cancel(self, broadcast_id: int, now: datetime | None = None) -> bool:
        """Stop a scheduled or running broadcast; False if it was already over.

        Rows waiting (``pending``) or claimed by a worker but not yet being sent (``claimed``)
        become ``skipped: cancelled`` here: the worker marks only rows still ``claimed`` as
        ``sending`` (a conditional UPDATE), so a dropped row is never sent. Rows already
        ``sending`` finish and are recorded as usual (sent, failed, or ``failed:
        interrupted`` if their worker died); one the worker would retry is skipped instead
        (``drop_stopped``). Nothing is sent twice and nothing is left waiting.
        """
        now = now or utcnow()
        result = await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == ACTIVE)
            .values(status=CANCELLED, finished_at=now)
        )
        if not rowcount(result):
            return False
        await self.session.execute(
            update(D)
            .where(D.broadcast_id == broadcast_id, D.state.in_((PENDING, CLAIMED)))
            .values(state=SKIPPED, reason=CANCELLED_REASON, updated_at=now)
        )
        return True

    # --- drafts -------------------------------------------------------------------------------

    async def keep_draft(
        self, team_id: int | None, text: str, *, title: str, created_by: int, now: datetime
    ) -> Broadcast:
        """Keep a typed announcement nobody could receive yet (its ``body`` is the typed text);
        it replaces this user's earlier draft for the same team. No delivery rows: never sent."""
        await self.drop_drafts(team_id, created_by)
        draft = Broadcast(
            team_id=team_id,
            kind="announcement",
            title=title[:200],
            body=text,
            scheduled_at=now,
            created_by=created_by,
            created_at=now,
            status=DRAFT,
        )
        self.session.add(draft)
        return draft

    async def draft_of(self, team_id: int | None, created_by: int) -> Broadcast | None:
        """This user's kept draft for the team (None: every citizen), if any."""
        team = Broadcast.team_id.is_(None) if team_id is None else Broadcast.team_id == team_id
        query = (
            select(Broadcast)
            .where(Broadcast.status == DRAFT, Broadcast.created_by == created_by, team)
            .order_by(Broadcast.id.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def drop_drafts(self, team_id: int | None, created_by: int) -> None:
        """Forget this user's drafts for the team (sent or replaced)."""
        team = Broadcast.team_id.is_(None) if team_id is None else Broadcast.team_id == team_id
        await self.session.execute(
            delete(Broadcast).where(
                Broadcast.status == DRAFT, Broadcast.created_by == created_by, team
            )
        )

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
        return bool(rowcount(result))

    async def opted_out(self, user_id: int) -> bool:
        """Whether this user opted out."""
        return await self.session.get(BroadcastOptOut, user_id) is not None


__all__ = [
    "Audience",
    "AudienceCount",
    "BroadcastRepo",
    "Claimed",
    "Outcome",
    "Ready",
]
