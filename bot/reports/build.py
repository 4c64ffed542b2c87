"""A team's report: its citizens, their completions, in-person guidance and who is stuck."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

from storage.models import Team
from storage.models.lessons import FAILED
from storage.models.teams import COUNT_BASIC_FIVE, COUNT_CITIZEN, COUNT_COMPLETION, COUNT_GUIDED
from storage.repos.followup import NoteRepo
from storage.repos.lessons import LessonRepo, StuckRow
from storage.repos.nudges import NudgeRepo, ReminderCount
from storage.repos.scope import EVERY_TEAM, NO_TEAM, Members, Scope, index_joins
from storage.repos.teams import Citizen, ProgressRepo, SkillRecords, TeamRepo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.content.lessons import Skill
    from bot.content.messages import Messages
    from bot.content.snapshot import Snapshot

VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving time


@dataclass
class CitizenRow:
    """One citizen of a report and where they stand on each skill."""

    user: Citizen
    team: Team | None
    joined_at: datetime
    passed: dict[str, float] = field(default_factory=dict)  # skill id -> best score
    guided: set[str] = field(default_factory=set)
    learning: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    basic_five: bool = False
    note: str = ""  # the team's note on the citizen (team staff and admins only)
    reminded: int = 0  # gentle reminders sent to the citizen (one per lesson at most)


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
    citizens: int = -1  # when rows were not kept (totals over every team): how many
    # Monday of a week (Vietnam time) -> (completions through the bot, guided in person) that
    # week; of the citizens in ``rows`` (those who deleted their data have no dates)
    weekly: dict[date, tuple[int, int]] = field(default_factory=dict)
    reminders: int = 0  # gentle reminders sent to these citizens
    resumed: int = 0  # of them, followed by the citizen going on with that lesson

    def __post_init__(self) -> None:
        if self.citizens < 0:
            self.citizens = len(self.rows)


class Named(Protocol):
    """Anything with a user's id and display name (a ``User``, a report's ``Citizen``)."""

    @property
    def id(self) -> int: ...

    @property
    def display_name(self) -> str | None: ...


def display_name(user: Named, messages: Messages) -> str:
    """The name members see for a user."""
    name = (user.display_name or "").strip()
    return name or messages("followup.unnamed", id=user.id)


async def build_report(
    session: AsyncSession,
    snapshot: Snapshot,
    team: Team | None,
    now: datetime,
    stuck_days: int,
    *,
    notes: bool = False,
) -> Report:
    """Gather a team's citizens, their completions, in-person guidance and who is stuck;
    with ``notes``, the team's notes on them (for the team's staff and admins only).

    Every query joins on the team, so a team's report costs the same in a village as in a
    country; ``team`` None (every citizen) loads everyone: over many teams use
    ``build_team_reports`` block by block.
    """
    teams = TeamRepo(session)
    progress = ProgressRepo(session)
    scope: Scope = team.id if team is not None else EVERY_TEAM
    by_team = {team.id: team} if team is not None else {t.id: t for t in await teams.all()}
    report = _assemble(
        snapshot,
        team,
        by_team,
        await teams.citizen_rows(scope),
        await progress.records(scope),
        await LessonRepo(session).stuck_rows(now, scope),
        await progress.anonymous(team.id if team is not None else None),
        now,
        stuck_days,
    )
    add_reminders(report, await NudgeRepo(session).reminders_sent(scope))
    if notes:
        written = await NoteRepo(session).of_citizens(scope)
        for row in report.rows:
            row.note = written.get(row.user.id, "")
    return report


async def build_team_reports(
    session: AsyncSession,
    snapshot: Snapshot,
    block: Sequence[Team],
    now: datetime,
    stuck_days: int,
    *,
    notes: bool = False,
) -> list[Report]:
    """``build_report`` of each team of a block (at most ``MAX_LIST`` teams) in five queries
    (six ``with notes``), for reports over every team with bounded memory."""
    ids = [t.id for t in block]
    await index_joins(session)
    progress = ProgressRepo(session)
    citizens = await TeamRepo(session).citizen_rows(ids)
    members = Members(tuple(ids))  # the rows of the block's staff too: dropped below
    records = await progress.records(members)
    stuck = await LessonRepo(session).stuck_rows(now, members)
    anonymous = await progress.anonymous_of_teams(ids)
    team_of = {c.id: c.team_id for c in citizens}
    parts: dict[int | None, tuple[list[Citizen], SkillRecords, list[StuckRow]]] = {
        t.id: ([], SkillRecords([], [], []), []) for t in block
    }
    for citizen in citizens:
        parts[citizen.team_id][0].append(citizen)
    for name in ("completions", "guided", "open_attempts"):
        for item in getattr(records, name):
            if item.user_id in team_of:
                getattr(parts[team_of[item.user_id]][1], name).append(item)
    for attempt in stuck:
        if attempt.user_id in team_of:
            parts[attempt.team_id][2].append(attempt)
    by_team = {t.id: t for t in block}
    reminders = await NudgeRepo(session).reminders_sent(ids)
    reports = [
        _assemble(
            snapshot,
            team,
            by_team,
            parts[team.id][0],
            parts[team.id][1],
            parts[team.id][2],
            anonymous.get(team.id, {}),
            now,
            stuck_days,
        )
        for team in block
    ]
    written = await NoteRepo(session).of_citizens(members) if notes else {}
    for report in reports:
        add_reminders(report, reminders)
        for row in report.rows:
            row.note = written.get(row.user.id, "")
    return reports


async def build_unassigned_report(
    session: AsyncSession, snapshot: Snapshot, now: datetime, stuck_days: int
) -> Report:
    """The report of the consented citizens who belong to no team."""
    progress = ProgressRepo(session)
    report = _assemble(
        snapshot,
        None,
        {},
        await TeamRepo(session).citizen_rows(NO_TEAM),
        await progress.records(NO_TEAM),
        await LessonRepo(session).stuck_rows(now, NO_TEAM),
        await progress.anonymous_without_team(),
        now,
        stuck_days,
    )
    add_reminders(report, await NudgeRepo(session).reminders_sent(NO_TEAM))
    return report


def add_reminders(report: Report, counts: dict[int, ReminderCount]) -> None:
    """The gentle reminders sent to the report's citizens (``counts`` may hold others too)."""
    for row in report.rows:
        count = counts.get(row.user.id)
        if count is not None:
            row.reminded = count.sent
            report.reminders += count.sent
            report.resumed += count.resumed


def add_up(total: Report, part: Report) -> None:
    """Add ``part``'s counts to ``total`` (whose rows and stuck list stay empty)."""
    total.citizens += part.citizens
    for skill, n in part.bot.items():
        total.bot[skill] = total.bot.get(skill, 0) + n
    for skill, n in part.guided.items():
        total.guided[skill] = total.guided.get(skill, 0) + n
    total.basic_five += part.basic_five
    total.deleted += part.deleted
    total.reminders += part.reminders
    total.resumed += part.resumed
    for week, (bot, guided) in part.weekly.items():
        was = total.weekly.get(week, (0, 0))
        total.weekly[week] = (was[0] + bot, was[1] + guided)


def _assemble(
    snapshot: Snapshot,
    team: Team | None,
    by_team: dict[int, Team],
    citizens: Sequence[Citizen],
    records: SkillRecords,
    stuck_attempts: Sequence[StuckRow],
    anonymous: dict[tuple[str, str], int],
    now: datetime,
    stuck_days: int,
) -> Report:
    """The report of these citizens from their records."""
    rows = _rows(citizens, records, by_team)
    bot = _anonymous_counts(anonymous, COUNT_COMPLETION)
    guided = _anonymous_counts(anonymous, COUNT_GUIDED)
    stuck = _stuck(snapshot, rows, stuck_attempts, now, stuck_days)
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
        weekly=_weekly(records),
    )


def week_of(moment: datetime) -> date:
    """The Monday (Vietnam time) of the week of ``moment``."""
    day = moment.astimezone(VIETNAM).date()
    return day - timedelta(days=day.weekday())


def _weekly(records: SkillRecords) -> dict[date, tuple[int, int]]:
    """Completions through the bot and guidance in person, per week."""
    counts: dict[date, list[int]] = {}
    for index, rows in enumerate((records.completions, records.guided)):
        for row in rows:
            if row.at is not None:
                counts.setdefault(week_of(row.at), [0, 0])[index] += 1
    return {week: (bot, guided) for week, (bot, guided) in counts.items()}


def _rows(
    citizens: Sequence[Citizen], records: SkillRecords, by_team: dict[int, Team]
) -> dict[int, CitizenRow]:
    """The citizens with their team, completions, guidance and lessons in progress."""
    rows: dict[int, CitizenRow] = {}
    for citizen in citizens:
        rows[citizen.id] = CitizenRow(
            user=citizen,
            team=by_team.get(citizen.team_id) if citizen.team_id is not None else None,
            joined_at=citizen.joined_at or citizen.first_seen,
        )
    for completion in records.completions:
        rows[completion.user_id].passed[completion.skill_id] = completion.score or 0.0
    for guided in records.guided:
        rows[guided.user_id].guided.add(guided.skill_id)
    for going in records.open_attempts:
        rows[going.user_id].learning.add(going.skill_id)
    return rows


def _anonymous_counts(anonymous: dict[tuple[str, str], int], kind: str) -> dict[str, int]:
    """Skill id -> the anonymous count of ``kind`` (of citizens who deleted their data)."""
    counts: dict[str, int] = {}
    for (counted, skill), count in anonymous.items():
        if counted == kind:
            counts[skill] = counts.get(skill, 0) + count
    return counts


def _stuck(
    snapshot: Snapshot,
    rows: dict[int, CitizenRow],
    attempts: Sequence[StuckRow],
    now: datetime,
    stuck_days: int,
) -> list[Stuck]:
    """Who failed a quiz, or left a lesson unfinished for ``stuck_days``, longest idle first."""
    stuck: list[Stuck] = []
    idle_limit = now - timedelta(days=stuck_days)
    for attempt in attempts:
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
