"""A team's report: its citizens, their completions, in-person guidance and who is stuck."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from storage.models import Team, User
from storage.models.lessons import FAILED
from storage.models.teams import COUNT_BASIC_FIVE, COUNT_CITIZEN, COUNT_COMPLETION, COUNT_GUIDED
from storage.repos.lessons import LessonRepo
from storage.repos.teams import ProgressRepo, TeamRepo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.content.lessons import Skill
    from bot.content.messages import Messages
    from bot.content.snapshot import Snapshot

VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving time


@dataclass
class CitizenRow:
    """One citizen of a report and where they stand on each skill."""

    user: User
    team: Team | None
    joined_at: datetime
    passed: dict[str, float] = field(default_factory=dict)  # skill id -> best score
    guided: set[str] = field(default_factory=set)
    learning: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    basic_five: bool = False


@dataclass(frozen=True)
class Stuck:
    """A citizen stuck on a skill: ``kind`` reading | quiz | failed."""

    row: CitizenRow
    skill: Skill
    kind: str
    idle_days: int
    step: int = 0
    steps: int = 0
    correct: int = 0
    total: int = 0


@dataclass
class Report:
    """Everything the follow-up views show for one team (``team`` None: every team)."""

    team: Team | None
    rows: list[CitizenRow]
    bot: dict[str, int]  # skill id -> completions through the bot (anonymous ones included)
    guided: dict[str, int]  # skill id -> guided in person (anonymous ones included)
    basic_five: int
    deleted: int
    stuck: list[Stuck]


def display_name(user: User, messages: Messages) -> str:
    """The name members see for a user."""
    name = (user.display_name or "").strip()
    return name or messages("followup.unnamed", id=user.id)


async def build_report(
    session: AsyncSession,
    snapshot: Snapshot,
    team: Team | None,
    now: datetime,
    stuck_days: int,
) -> Report:
    """Gather a team's citizens, their completions, in-person guidance and who is stuck."""
    team_id = team.id if team is not None else None
    rows = await _rows(session, team_id)
    anonymous = await ProgressRepo(session).anonymous(team_id)
    bot = _anonymous_counts(anonymous, COUNT_COMPLETION)
    guided = _anonymous_counts(anonymous, COUNT_GUIDED)
    stuck = await _stuck(session, snapshot, rows, now, stuck_days)
    basic = anonymous.get((COUNT_BASIC_FIVE, ""), 0)
    for row in rows.values():
        for skill in row.passed:
            bot[skill] = bot.get(skill, 0) + 1
        for skill in row.guided:
            guided[skill] = guided.get(skill, 0) + 1
        row.basic_five = snapshot.lessons.reached_five(set(row.passed) | row.guided)
        basic += row.basic_five
    return Report(
        team=team,
        rows=list(rows.values()),
        bot=bot,
        guided=guided,
        basic_five=basic,
        deleted=anonymous.get((COUNT_CITIZEN, ""), 0),
        stuck=stuck,
    )


async def _rows(session: AsyncSession, team_id: int | None) -> dict[int, CitizenRow]:
    """The citizens of a team (every team: None) with their team, completions and guidance."""
    teams = TeamRepo(session)
    users = await teams.citizens(team_id)
    ids = [u.id for u in users]
    memberships = await teams.memberships(ids)
    by_team = {t.id: t for t in await teams.all()}
    rows: dict[int, CitizenRow] = {}
    for user in users:
        membership = memberships.get(user.id)
        rows[user.id] = CitizenRow(
            user=user,
            team=by_team.get(membership.team_id) if membership else None,
            joined_at=membership.joined_at if membership else user.first_seen,
        )
    records = await ProgressRepo(session).records(ids)
    for completion in records.completions:
        rows[completion.user_id].passed[completion.skill_id] = completion.best_score
    for guided in records.guided:
        rows[guided.user_id].guided.add(guided.skill_id)
    for attempt in records.open_attempts:
        rows[attempt.user_id].learning.add(attempt.skill_id)
    return rows


def _anonymous_counts(anonymous: dict[tuple[str, str], int], kind: str) -> dict[str, int]:
    """Skill id -> the anonymous count of ``kind`` (of citizens who deleted their data)."""
    counts: dict[str, int] = {}
    for (counted, skill), count in anonymous.items():
        if counted == kind:
            counts[skill] = counts.get(skill, 0) + count
    return counts


async def _stuck(
    session: AsyncSession,
    snapshot: Snapshot,
    rows: dict[int, CitizenRow],
    now: datetime,
    stuck_days: int,
) -> list[Stuck]:
    """Who failed a quiz, or left a lesson unfinished for ``stuck_days``, longest idle first."""
    stuck: list[Stuck] = []
    idle_limit = now - timedelta(days=stuck_days)
    for attempt in await LessonRepo(session).stuck(now, list(rows)) if rows else []:
        row = rows[attempt.user_id]
        found = snapshot.lessons.get(attempt.skill_id)
        if found is None or attempt.skill_id in row.guided:
            continue
        idle = max(0, (now - attempt.updated_at).days)
        if attempt.status == FAILED:
            row.failed.add(found.id)
            correct, total = attempt.correct or 0, attempt.total or len(found.quiz)
            stuck.append(Stuck(row, found, "failed", idle, correct=correct, total=total))
        elif attempt.updated_at < idle_limit:
            index = found.step_index(attempt.step_id or "")
            kind = "quiz" if attempt.status == "quiz" else "reading"
            step, steps = (index or 0) + 1, len(found.steps)
            stuck.append(Stuck(row, found, kind, idle, step=step, steps=steps))
    stuck.sort(key=lambda s: (-s.idle_days, s.row.user.id))
    return stuck
