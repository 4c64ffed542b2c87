"""Which citizens a report covers: one team, a block of teams, or every consented citizen.

Per-team queries join ``team_memberships`` on its ``team_id`` index, so their cost follows the
team's size, never the country's; a block of teams (at most ``lists.MAX_LIST`` ids) lets a
report over every team go block by block with bounded memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Result, Select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import TeamMembership, User
from storage.repos.lists import MAX_LIST


class NoTeam:
    """The consented citizens who belong to no team."""


@dataclass(frozen=True)
class Members:
    """Everyone in a block of teams, whatever their role or consent: for a caller that has the
    block's consented citizens already and keeps only their rows (``users`` is not joined
    again: a primary-key probe per member per query was 40% of a block's database time)."""

    teams: tuple[int, ...]


# One team's id, a block of team ids, NO_TEAM, Members, or None: every consented citizen.
Scope = int | Sequence[int] | NoTeam | Members | None
EVERY_TEAM: Scope = None
NO_TEAM = NoTeam()

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def of_citizens(query: S, user_id: Any, teams: Scope) -> S:
    """``query`` limited to rows whose ``user_id`` is a consented citizen of ``teams`` (a
    member of any role of them, for ``Members``)."""
    if isinstance(teams, Members):
        if len(teams.teams) > MAX_LIST:
            raise ValueError(f"a block of {len(teams.teams)} teams; at most {MAX_LIST}")
        query = query.join(TeamMembership, TeamMembership.user_id == user_id)
        return query.where(TeamMembership.team_id.in_(list(teams.teams)))
    if user_id is not User.id:
        query = query.join(User, User.id == user_id)
    query = query.where(User.role == "citizen", User.consent_at.is_not(None))
    if teams is None:
        return query.outerjoin(TeamMembership, TeamMembership.user_id == user_id)
    if isinstance(teams, NoTeam):
        query = query.outerjoin(TeamMembership, TeamMembership.user_id == user_id)
        return query.where(TeamMembership.user_id.is_(None))
    query = query.join(TeamMembership, TeamMembership.user_id == user_id)
    if isinstance(teams, int):
        return query.where(TeamMembership.team_id == teams)
    block = list(teams)
    if len(block) > MAX_LIST:
        raise ValueError(f"a block of {len(block)} teams; at most {MAX_LIST}")
    return query.where(TeamMembership.team_id.in_(block))


async def plain_rows(
    session: AsyncSession, query: Select[*tuple[Any, ...]]
) -> Result[*tuple[Any, ...]]:
    """Run a SELECT of columns on the session's connection: plain rows, without the ORM's
    per-row loading (pending changes are flushed first, as ``session.execute`` would)."""
    await session.flush()
    result: Result[*tuple[Any, ...]] = await (await session.connection()).execute(query)
    return result


async def index_joins(session: AsyncSession) -> None:
    """For the rest of the transaction, join by probing indexes (PostgreSQL).

    A block of teams is at most ``MAX_LIST`` teams' citizens, found through the
    ``team_memberships`` team index; PostgreSQL still estimates that hashing all of ``users``
    (or every completion) is cheaper than 20,000 index probes, and takes 3-5 times longer.
    Parallel workers are off too: gathering a few thousand rows from them cost more than it
    saved on a busy two-core machine.
    """
    if session.get_bind().dialect.name == "postgresql":
        for setting in ("enable_hashjoin", "enable_mergejoin"):
            await session.execute(text(f"SET LOCAL {setting} = off"))
        await session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
