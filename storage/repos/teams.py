"""Teams, memberships, invites and in-person guidance (the question queue: ``questions.py``).

Other features select "a team's citizens" with ``TeamRepo.citizens_query(team_id)`` (a SELECT
of ``User`` rows) or ``TeamRepo.citizens(team_id)``; the team of a user is
``TeamRepo.team_of(user_id)``.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Select, delete, func, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    TEAM_STAFF,
    AnonymousCount,
    GuidedSkill,
    LessonAttempt,
    MemberInvite,
    Role,
    SkillCompletion,
    Team,
    TeamMembership,
    TeamSize,
    User,
    utcnow,
)
from storage.models.lessons import OPEN_STATUSES
from storage.models.teams import JOINED_BY_INVITE
from storage.repos.lists import among, chunks, is_pg
from storage.repos.questions import QuestionRepo as QuestionRepo  # re-exported for callers
from storage.repos.scope import Scope, of_citizens, plain_rows

# Letters and digits that cannot be mistaken for each other (no 0/O, 1/I).
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TEAM_CODE_LENGTH = 6
INVITE_CODE_LENGTH = 10
INVITE_ROLES = (Role.MEMBER, Role.LEAD, Role.ADMIN, Role.COMMUNE)
CONTACT_FIELDS = {"phone": 32, "place": 200, "hours": 200}  # Team columns and their lengths
_PHONE = re.compile(r"^\+?[0-9][0-9 .()-]{6,30}$")


def clean_contact(field: str, value: str) -> str | None:
    """A team contact value as stored ("" clears it), or None when it is not acceptable: a
    phone (or Zalo) number is digits with spaces, dots or dashes; the others are one line."""
    text = " ".join(value.split())
    if not text:
        return ""
    if field == "phone":
        digits = sum(c.isdigit() for c in text)
        return text if _PHONE.match(text) and 8 <= digits <= 15 else None
    return text if len(text) <= CONTACT_FIELDS.get(field, 0) else None


HOUSEHOLD_LENGTH = 40


def clean_household(value: str) -> str | None:
    """A household label as stored ("" clears it), or None when refused: one short line, and
    not a number long enough to be a phone, ID or house number (labels are names, e.g. "Nhà
    bác Tư", "Hộ 12")."""
    text = " ".join(value.split())
    if len(text) > HOUSEHOLD_LENGTH:
        return None
    if sum(c.isdigit() for c in text) > 4:
        return None
    return text


def household_key(label: str | None) -> str:
    """Two labels name one household when they match without marks, case and spaces."""
    base = unicodedata.normalize("NFD", (label or "").casefold().replace("đ", "d"))
    return "".join(c for c in base if c.isalnum() and not unicodedata.combining(c))


def new_code(length: int) -> str:
    """A random code of unambiguous upper case letters and digits."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def clean_code(text: str) -> str | None:
    """The code a user typed, upper case without spaces or dashes; None if it can't be one."""
    code = "".join(text.split()).replace("-", "").upper()
    if 4 <= len(code) <= 16 and code.isascii() and code.isalnum():
        return code
    return None


def sort_key(text: str) -> str:
    """Vietnamese names in alphabetical order: marks ignored, đ after d."""
    base = unicodedata.normalize("NFD", text.casefold().replace("đ", "d~"))
    return "".join(c for c in base if not unicodedata.combining(c))


def _sorted(teams: Iterable[Team]) -> list[Team]:
    keys: dict[str, str] = {}  # each commune and village name once, not once per team

    def key(name: str) -> str:
        found = keys.get(name)
        if found is None:
            found = keys[name] = sort_key(name)
        return found

    return sorted(teams, key=lambda t: (key(t.commune), key(t.village), t.id))


class TeamRepo:
    """Teams, who belongs to them, and member invites."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- teams ---------------------------------------------------------------------------

    async def create(self, name: str, commune: str, village: str, code: str | None = None) -> Team:
        """A new team; a join code is generated unless given. Raises ValueError on a taken code."""
        if code is not None:
            cleaned = clean_code(code)
            if cleaned is None:
                raise ValueError(f"invalid code {code!r}: use 4-16 letters and digits")
            if await self.by_code(cleaned) is not None:
                raise ValueError(f"code {cleaned} is already used by another team")
            code = cleaned
        else:
            code = new_code(TEAM_CODE_LENGTH)
            while await self.by_code(code) is not None or await self._invite(code) is not None:
                code = new_code(TEAM_CODE_LENGTH)
        team = Team(
            name=name.strip()[:128],
            commune=commune.strip()[:128],
            village=village.strip()[:128],
            code=code,
            created_at=utcnow(),
        )
        self.session.add(team)
        await self.session.flush()
        return team

    async def get(self, team_id: int) -> Team | None:
        """The team with this id."""
        return await self.session.get(Team, team_id)

    async def set_contact(self, team: Team, field: str, value: str) -> bool:
        """Set one contact field of a team ("" clears it); False when the value is refused."""
        cleaned = clean_contact(field, value) if field in CONTACT_FIELDS else None
        if cleaned is None:
            return False
        setattr(team, field, cleaned or None)
        return True

    async def by_code(self, code: str) -> Team | None:
        """The team whose join code this is (any case, spaces ignored)."""
        cleaned = clean_code(code)
        if cleaned is None:
            return None
        return (
            await self.session.execute(select(Team).where(Team.code == cleaned))
        ).scalar_one_or_none()

    async def all(self) -> list[Team]:
        """Every team, by commune then village."""
        return _sorted((await self.session.execute(select(Team))).scalars())

    async def communes(self) -> list[Team]:
        """One team per commune (the first by village), to offer communes at onboarding."""
        teams = await self.all()
        seen: dict[str, Team] = {}
        for team in teams:
            seen.setdefault(team.commune, team)
        return list(seen.values())

    async def in_commune(self, commune: str) -> list[Team]:
        """The teams of one commune, by village."""
        result = await self.session.execute(select(Team).where(Team.commune == commune))
        return _sorted(result.scalars())

    # --- membership ------------------------------------------------------------------------

    async def membership(self, user_id: int) -> TeamMembership | None:
        """The user's membership row, if they belong to a team."""
        return await self.session.get(TeamMembership, user_id)

    async def team_of(self, user_id: int) -> Team | None:
        """The team the user belongs to, if any."""
        membership = await self.membership(user_id)
        return await self.get(membership.team_id) if membership is not None else None

    async def memberships(self, user_ids: Sequence[int]) -> dict[int, TeamMembership]:
        """Membership rows of these users, by user id."""
        found: dict[int, TeamMembership] = {}
        for block in chunks(list(user_ids)):
            result = await self.session.execute(
                select(TeamMembership).where(
                    among(TeamMembership.user_id, block, is_pg(self.session))
                )
            )
            found.update((m.user_id, m) for m in result.scalars())
        return found

    async def join(
        self, user_id: int, team_id: int, joined_by: str, now: datetime | None = None
    ) -> None:
        """Put the user in a team (moving them from any other)."""
        membership = await self.membership(user_id)
        if membership is None:
            self.session.add(
                TeamMembership(
                    user_id=user_id,
                    team_id=team_id,
                    joined_by=joined_by,
                    joined_at=now or utcnow(),
                )
            )
        elif membership.team_id != team_id:
            membership.team_id = team_id
            membership.joined_by = joined_by
            membership.joined_at = now or utcnow()
            membership.household = None  # a household of the other village
        await self.session.flush()

    async def set_household(self, user_id: int, label: str) -> bool:
        """Record a citizen's household label ("" clears it); False when it is refused."""
        membership = await self.membership(user_id)
        cleaned = clean_household(label)
        if membership is None or cleaned is None:
            return False
        membership.household = cleaned or None
        return True

    async def leave(self, user_id: int) -> None:
        """Take the user out of their team."""
        await self.session.execute(delete(TeamMembership).where(TeamMembership.user_id == user_id))

    def citizens_query(self, team_id: int | None) -> Select[User]:
        """SELECT the citizens of a team (every consented citizen when ``team_id`` is None)."""
        query = select(User).where(User.role == Role.CITIZEN, User.consent_at.is_not(None))
        if team_id is not None:
            query = query.join(TeamMembership, TeamMembership.user_id == User.id).where(
                TeamMembership.team_id == team_id
            )
        return query.order_by(User.id)

    async def citizens(self, team_id: int | None) -> list[User]:
        """The citizens of a team (all consented citizens when ``team_id`` is None)."""
        return list((await self.session.execute(self.citizens_query(team_id))).scalars())

    async def citizen_rows(self, teams: Scope) -> list[Citizen]:
        """The consented citizens of ``teams`` with their team, by id: one query, plain rows."""
        query = select(
            User.id,
            User.display_name,
            User.channel,
            User.first_seen,
            TeamMembership.team_id,
            TeamMembership.joined_at,
            TeamMembership.household,
        ).select_from(User)
        query = of_citizens(query, User.id, teams).order_by(User.id)
        return [Citizen(*row) for row in await plain_rows(self.session, query)]

    async def citizen_count(self, team_id: int | None) -> int:
        """How many citizens ``citizens(team_id)`` would return, counted in SQL."""
        query = self.citizens_query(team_id).with_only_columns(func.count()).order_by(None)
        return int(await self.session.scalar(query) or 0)

    async def staff(self, team_id: int) -> list[User]:
        """The members and leads of a team."""
        result = await self.session.execute(
            select(User)
            .join(TeamMembership, TeamMembership.user_id == User.id)
            .where(TeamMembership.team_id == team_id, User.role.in_(sorted(TEAM_STAFF)))
            .order_by(User.id)
        )
        return list(result.scalars())

    async def admins(self) -> list[User]:
        """Every admin."""
        result = await self.session.execute(
            select(User).where(User.role == Role.ADMIN).order_by(User.id)
        )
        return list(result.scalars())

    async def sizes(self) -> dict[int, tuple[int, int]]:
        """Per team id with anyone in it: (citizens, members and leads).

        The members of each team come from ``team_sizes`` (kept by triggers, one row per team);
        the few non-citizens through the role index, each one's team by a primary-key probe
        (never a hash of every membership), are taken off and counted as staff.
        """
        totals = await self.session.execute(
            select(TeamSize.team_id, TeamSize.members).where(TeamSize.members > 0)
        )
        sizes = {team_id: (int(n), 0) for team_id, n in totals.all()}
        team = (
            select(TeamMembership.team_id)
            .where(TeamMembership.user_id == User.id)
            .scalar_subquery()
        )
        others = await self.session.execute(
            select(team, User.role).where(
                User.role.in_([r for r in Role if r != Role.CITIZEN])  # the role index
            )
        )
        for team_id, role in others.all():
            if team_id is None or team_id not in sizes:
                continue
            citizens, staff = sizes[team_id]
            sizes[team_id] = (citizens - 1, staff + (1 if role in TEAM_STAFF else 0))
        return sizes

    async def remove_member(self, team_id: int, user: User) -> bool:
        """Take a member or lead out of a team (they become a citizen with no team)."""
        membership = await self.membership(user.id)
        if membership is None or membership.team_id != team_id or user.role not in TEAM_STAFF:
            return False
        user.role = Role.CITIZEN
        await self.leave(user.id)
        return True

    # --- invites ---------------------------------------------------------------------------

    async def _invite(self, code: str) -> MemberInvite | None:
        return (
            await self.session.execute(select(MemberInvite).where(MemberInvite.code == code))
        ).scalar_one_or_none()

    async def invite(
        self, team_id: int | None, role: str, ttl: timedelta, now: datetime | None = None
    ) -> MemberInvite:
        """A one-time code making its user ``role`` of the team (an admin when role is admin)."""
        if role not in INVITE_ROLES:
            raise ValueError(f"role must be one of {', '.join(INVITE_ROLES)}")
        if (role == Role.ADMIN) != (team_id is None):
            raise ValueError("admin invites have no team; member and lead invites need one")
        now = now or utcnow()
        code = new_code(INVITE_CODE_LENGTH)
        while await self._invite(code) is not None or await self.by_code(code) is not None:
            code = new_code(INVITE_CODE_LENGTH)
        invite = MemberInvite(
            code=code, team_id=team_id, role=role, created_at=now, expires_at=now + ttl
        )
        self.session.add(invite)
        await self.session.flush()
        return invite

    async def usable_invite(self, code: str, now: datetime | None = None) -> MemberInvite | None:
        """The invite with this code if it is unused and not expired."""
        cleaned = clean_code(code)
        if cleaned is None:
            return None
        invite = await self._invite(cleaned)
        now = now or utcnow()
        if invite is None or invite.used_at is not None or invite.expires_at <= now:
            return None
        return invite

    async def redeem(
        self, code: str, user: User, now: datetime | None = None
    ) -> MemberInvite | None:
        """Use an invite: the user gets its role (an admin stays admin) and joins its team."""
        now = now or utcnow()
        invite = await self.usable_invite(code, now)
        if invite is None:
            return None
        invite.used_by = user.id
        invite.used_at = now
        if invite.role == Role.ADMIN or user.role != Role.ADMIN:
            user.role = invite.role
        if invite.team_id is not None:
            await self.join(user.id, invite.team_id, JOINED_BY_INVITE, now)
        await self.session.flush()
        return invite

    async def open_invites(self, team_id: int, now: datetime | None = None) -> list[MemberInvite]:
        """Invites of a team not yet used nor expired."""
        result = await self.session.execute(
            select(MemberInvite)
            .where(
                MemberInvite.team_id == team_id,
                MemberInvite.used_at.is_(None),
                MemberInvite.expires_at > (now or utcnow()),
            )
            .order_by(MemberInvite.id)
        )
        return list(result.scalars())

    async def revoke(self, code: str) -> bool:
        """Delete an unused invite."""
        cleaned = clean_code(code) or ""
        result = await self.session.execute(
            delete(MemberInvite).where(MemberInvite.code == cleaned, MemberInvite.used_at.is_(None))
        )
        return bool(getattr(result, "rowcount", 0))


class Citizen(NamedTuple):
    """A citizen as reports show them, with their team (None: no team)."""

    id: int
    display_name: str | None
    channel: str
    first_seen: datetime
    team_id: int | None
    joined_at: datetime | None
    household: str | None = None


class SkillRow(NamedTuple):
    """A citizen and a skill (a completion's best score; when it was first passed or guided)."""

    user_id: int
    skill_id: str
    score: float | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class SkillRecords:
    """What a group of citizens did, for reports: bot completions, in-person guidance, open work."""

    completions: list[SkillRow]
    guided: list[SkillRow]
    open_attempts: list[SkillRow]


class ProgressRepo:
    """In-person guidance records, anonymous counts, and skill records of many citizens."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def guide(
        self,
        user_id: int,
        skill_id: str,
        team_id: int | None,
        by: int | None,
        now: datetime | None = None,
    ) -> bool:
        """Record that ``by`` taught the citizen the skill in person; False if already recorded."""
        existing = await self.session.scalar(
            select(GuidedSkill.id).where(
                GuidedSkill.user_id == user_id, GuidedSkill.skill_id == skill_id
            )
        )
        if existing is not None:
            return False
        self.session.add(
            GuidedSkill(
                user_id=user_id,
                skill_id=skill_id[:64],
                team_id=team_id,
                guided_by=by,
                guided_at=now or utcnow(),
            )
        )
        await self.session.flush()
        return True

    async def guided(self, user_ids: Sequence[int]) -> list[GuidedSkill]:
        """In-person guidance records of these citizens."""
        found: list[GuidedSkill] = []
        for block in chunks(list(user_ids)):
            result = await self.session.execute(
                select(GuidedSkill).where(among(GuidedSkill.user_id, block, is_pg(self.session)))
            )
            found.extend(result.scalars())
        return found

    async def records(self, teams: Scope) -> SkillRecords:
        """Completions, guidance and open lesson attempts of the consented citizens of
        ``teams`` (joined on the team, never a list of citizen ids), as plain rows."""

        async def rows(*columns: Any, where: Any = None) -> list[SkillRow]:
            query = select(*columns)
            if where is not None:
                query = query.where(where)
            query = of_citizens(query, columns[0], teams)
            return [SkillRow(*row) for row in await plain_rows(self.session, query)]

        return SkillRecords(
            completions=await rows(
                SkillCompletion.user_id,
                SkillCompletion.skill_id,
                SkillCompletion.best_score,
                SkillCompletion.first_passed_at,
            ),
            guided=await rows(
                GuidedSkill.user_id, GuidedSkill.skill_id, null(), GuidedSkill.guided_at
            ),
            open_attempts=await rows(
                LessonAttempt.user_id,
                LessonAttempt.skill_id,
                where=LessonAttempt.status.in_(OPEN_STATUSES),
            ),
        )

    async def add_anonymous(
        self, team_id: int | None, counts: Iterable[tuple[str, str, int]]
    ) -> None:
        """Keep counts (kind, skill id or "", number) with no link to anyone."""
        now = utcnow()
        self.session.add_all(
            AnonymousCount(team_id=team_id, kind=kind, skill_id=skill, count=n, recorded_at=now)
            for kind, skill, n in counts
            if n > 0
        )
        await self.session.flush()

    async def anonymous_without_team(self) -> dict[tuple[str, str], int]:
        """Anonymous counts of citizens who had no team."""
        result = await self.session.execute(
            select(AnonymousCount.kind, AnonymousCount.skill_id, func.sum(AnonymousCount.count))
            .where(AnonymousCount.team_id.is_(None))
            .group_by(AnonymousCount.kind, AnonymousCount.skill_id)
        )
        return {(kind, skill): int(total or 0) for kind, skill, total in result.all()}

    async def anonymous_of_teams(
        self, team_ids: Sequence[int]
    ) -> dict[int | None, dict[tuple[str, str], int]]:
        """``anonymous`` of each team of a block (at most ``MAX_LIST`` teams), one query."""
        query = (
            select(
                AnonymousCount.team_id,
                AnonymousCount.kind,
                AnonymousCount.skill_id,
                func.sum(AnonymousCount.count),
            )
            .where(among(AnonymousCount.team_id, team_ids, is_pg(self.session)))
            .group_by(AnonymousCount.team_id, AnonymousCount.kind, AnonymousCount.skill_id)
        )
        out: dict[int | None, dict[tuple[str, str], int]] = {}
        for team_id, kind, skill, total in (await self.session.execute(query)).all():
            out.setdefault(team_id, {})[(kind, skill)] = int(total or 0)
        return out

    async def anonymous(self, team_id: int | None) -> dict[tuple[str, str], int]:
        """Summed anonymous counts of a team (of every team when ``team_id`` is None)."""
        query = select(AnonymousCount.kind, AnonymousCount.skill_id, func.sum(AnonymousCount.count))
        if team_id is not None:
            query = query.where(AnonymousCount.team_id == team_id)
        result = await self.session.execute(
            query.group_by(AnonymousCount.kind, AnonymousCount.skill_id)
        )
        return {(kind, skill): int(total or 0) for kind, skill, total in result.all()}
