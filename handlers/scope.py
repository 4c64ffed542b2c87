"""Which team a staff user's view covers: the one place that checks a team id from a payload.

Members and leads see their own team only, whatever a payload says; admins see any team, or
every team at once (``ALL``). Used by the team tools, the team questions and broadcasts.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.context import Context
from handlers.menu import menu_button
from storage.models import TEAM_STAFF, Role, Team, User
from storage.repos.teams import TeamRepo

ALL = 0  # team id in payloads meaning "every team" (admins only); for queues: the admin queue


async def own_team(ctx: Context) -> Team | None:
    """The team of the member or lead using the bot."""
    return await TeamRepo(ctx.session).team_of(ctx.user.id)


async def every_team(ctx: Context) -> list[Team]:
    """All teams, in the order admins pick from."""
    return list(await TeamRepo(ctx.session).all())


async def team_by_id(ctx: Context, team_id: int | None) -> Team | None:
    """The team with this id (None: no team)."""
    return await TeamRepo(ctx.session).get(team_id) if team_id is not None else None


@dataclass(frozen=True)
class Scope:
    """What a staff view covers: one team, or every team (``team`` None, admins only)."""

    team: Team | None

    @property
    def team_id(self) -> int:
        """The id used in payloads (``ALL`` for every team)."""
        return self.team.id if self.team is not None else ALL


async def team_scope(ctx: Context, wanted: int | None, *, say: bool = True) -> Scope | None:
    """The scope ``wanted`` names (None: the user's own), if this user may see it; otherwise
    None, having said why unless ``say`` is false.

    A member or lead may only see their own team whatever the payload says; admins any team,
    or every team (``ALL``).
    """
    if ctx.user.role == Role.ADMIN:
        if wanted is None or wanted == ALL:
            return Scope(None)
        team = await TeamRepo(ctx.session).get(wanted)
        if team is None:
            _refuse(ctx, "followup.not_yours", say)
            return None
        return Scope(team)
    if ctx.user.role not in TEAM_STAFF:
        return None
    team = await own_team(ctx)
    if team is None:
        _refuse(ctx, "followup.no_team", say)
        return None
    if wanted is not None and wanted != team.id:
        _refuse(ctx, "followup.not_yours", say)
        return None
    return Scope(team)


def _refuse(ctx: Context, key: str, say: bool) -> None:
    if say:
        ctx.say(key, menu_button(ctx))


async def serves(ctx: Context, user: User, team_id: int | None) -> bool:
    """Whether ``user`` still answers for ``team_id``: a member or lead of that team, or an
    admin (who answers the admin queue, ``team_id`` None, and any team)."""
    if user.role == Role.ADMIN:
        return True
    if user.role not in TEAM_STAFF or team_id is None:
        return False
    team = await TeamRepo(ctx.session).team_of(user.id)
    return team is not None and team.id == team_id
