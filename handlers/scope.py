"""Which team a staff user's view covers: the one place that checks a team id from a payload.

Members and leads see their own team only, whatever a payload says; admins see any team, or
every team at once (``ALL``). Used by the team tools, the team questions and broadcasts.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.context import Context
from bot.core.events import ButtonPress
from handlers.menu import menu_button
from storage.models import Team
from storage.repos.teams import STAFF_ROLES, TeamRepo

ALL = 0  # team id in payloads meaning "every team" (admins only); for queues: the admin queue


def payload_args(ctx: Context, prefix: str) -> list[str]:
    """The colon-separated arguments after ``prefix`` in the pressed payload."""
    if not isinstance(ctx.event, ButtonPress):
        return []
    rest = ctx.event.payload[len(prefix) :]
    return rest.split(":") if rest else []


def payload_int(raw: str | None) -> int | None:
    """A row id from a payload, or None when it is not one."""
    return int(raw) if raw is not None and raw.isdigit() and len(raw) <= 12 else None


async def own_team(ctx: Context) -> Team | None:
    """The team of the member or lead using the bot."""
    return await TeamRepo(ctx.session).team_of(ctx.user.id)


@dataclass(frozen=True)
class Scope:
    """What a follow-up view covers: one team, or every team (``team`` None, admins only)."""

    team: Team | None

    @property
    def team_id(self) -> int:
        """The id used in payloads (``ALL`` for every team)."""
        return self.team.id if self.team is not None else ALL


async def team_scope(ctx: Context, raw: str | None) -> Scope | None:
    """The scope a payload names, if this user may see it; otherwise says so and gives None.

    A member or lead may only see their own team whatever the payload says; admins any team,
    or every team (``0``).
    """
    wanted = payload_int(raw)
    if ctx.user.role == "admin":
        if wanted is None or wanted == ALL:
            return Scope(None)
        team = await TeamRepo(ctx.session).get(wanted)
        if team is None:
            ctx.say("followup.not_yours", menu_button(ctx))
            return None
        return Scope(team)
    if ctx.user.role not in STAFF_ROLES:
        return None
    team = await own_team(ctx)
    if team is None:
        ctx.say("followup.no_team", menu_button(ctx))
        return None
    if wanted is not None and wanted != team.id:
        ctx.say("followup.not_yours", menu_button(ctx))
        return None
    return Scope(team)
