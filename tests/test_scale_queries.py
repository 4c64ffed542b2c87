"""Queries that scale with the team (#19): the reports say what they said before, on SQLite and
PostgreSQL, and no statement carries a list of values longer than ``lists.MAX_LIST``.

The reference below is the old, simple way: load every row and compute in Python (the newest
attempt per citizen and skill by the largest id among attempts not abandoned).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from bot.broadcast.worker import BroadcastWorker
from bot.config import Config, DatabaseConfig, RetentionConfig
from bot.content.snapshot import Snapshot, load_snapshot
from bot.core.housekeeping import prune_once
from bot.reports import build
from bot.reports.build import Report, build_report, build_team_reports
from bot.reports.table import csv_bytes
from bot.reports.text import stuck_text, summary_text
from storage.db import Database
from storage.models import (
    AnonymousCount,
    GuidedSkill,
    LessonAttempt,
    SkillCompletion,
    Team,
    TeamMembership,
    User,
)
from storage.repos.broadcasts import Audience, BroadcastRepo
from storage.repos.lessons import StuckRow
from storage.repos.lists import MAX_LIST
from storage.repos.teams import Citizen, ProgressRepo, SkillRecords, SkillRow, TeamRepo
from tests import conftest
from tests.broadcast_helpers import Recorder, fast_config, lesson_broadcast, until_done
from tests.scale_dataset import NOW, Shape, fill

DAYS = 7


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    """The bundled content."""
    return load_snapshot(conftest.CONTENT)


async def _dataset(db: Database, snapshot: Snapshot, teams: int, per_team: int) -> None:
    """The bench's dataset, plus citizens with no team, a staff member's attempt, anonymous
    counts of a team and of the admin queue."""
    await fill(db, Shape(teams, per_team), snapshot)
    skill = snapshot.lessons.skills[0].id
    async with db.transaction() as s:
        lonely = User(channel="web", external_id="lonely", role="citizen", consent_at=NOW)
        lead = await s.scalar(select(User).where(User.role == "lead").limit(1))
        assert lead is not None
        s.add(lonely)
        await s.flush()
        for who, status in ((lonely.id, "reading"), (lead.id, "failed")):
            s.add(
                LessonAttempt(
                    user_id=who,
                    skill_id=skill,
                    channel="web",
                    status=status,
                    started_at=NOW - timedelta(days=20),
                    updated_at=NOW - timedelta(days=20),
                )
            )
        first_team = await s.scalar(select(Team.id).order_by(Team.id).limit(1))
        s.add(AnonymousCount(team_id=first_team, kind="completion", skill_id=skill, count=3))
        s.add(AnonymousCount(team_id=first_team, kind="citizen", skill_id="", count=2))
        s.add(AnonymousCount(team_id=None, kind="citizen", skill_id="", count=1))


async def _reference(
    session: AsyncSession, snapshot: Snapshot, team: Team | None, by_team: dict[int, Team]
) -> Report:
    """The report computed the old way, from every row."""
    members = {m.user_id: m for m in (await session.execute(select(TeamMembership))).scalars()}
    users = (await session.execute(select(User).order_by(User.id))).scalars().all()
    citizens = [
        u
        for u in users
        if u.role == "citizen"
        and u.consent_at is not None
        and (team is None or (u.id in members and members[u.id].team_id == team.id))
    ]
    ids = {u.id for u in citizens}
    rows = [
        Citizen(
            u.id,
            u.display_name,
            u.channel,
            u.first_seen,
            members[u.id].team_id if u.id in members else None,
            members[u.id].joined_at if u.id in members else None,
        )
        for u in citizens
    ]
    done = (await session.execute(select(SkillCompletion))).scalars().all()
    guided = (await session.execute(select(GuidedSkill))).scalars().all()
    attempts = (await session.execute(select(LessonAttempt))).scalars().all()
    newest: dict[tuple[int, str], int] = {}
    for a in attempts:
        if a.status != "abandoned":
            key = (a.user_id, a.skill_id)
            newest[key] = max(newest.get(key, 0), a.id)
    passed = {(c.user_id, c.skill_id) for c in done}
    stuck = sorted(
        (
            a
            for a in attempts
            if a.user_id in ids
            and newest.get((a.user_id, a.skill_id)) == a.id
            and (a.user_id, a.skill_id) not in passed
            and a.updated_at < NOW
            and a.status in ("reading", "quiz", "failed")
        ),
        key=lambda a: (a.updated_at, a.id),
    )
    records = SkillRecords(
        [SkillRow(c.user_id, c.skill_id, c.best_score) for c in done if c.user_id in ids],
        [SkillRow(g.user_id, g.skill_id) for g in guided if g.user_id in ids],
        [
            SkillRow(a.user_id, a.skill_id)
            for a in attempts
            if a.user_id in ids and a.status in ("reading", "quiz")
        ],
    )
    stuck_rows = [
        StuckRow(
            a.id,
            a.user_id,
            a.skill_id,
            a.status,
            a.step_id,
            a.updated_at,
            a.correct,
            a.total,
            None,
        )
        for a in stuck
    ]
    anonymous = await ProgressRepo(session).anonymous(team.id if team is not None else None)
    return build._assemble(snapshot, team, by_team, rows, records, stuck_rows, anonymous, NOW, DAYS)


def _content(report: Report, snapshot: Snapshot) -> tuple[str, str, bytes]:
    return (
        summary_text(report, snapshot),
        stuck_text(report, snapshot.messages, DAYS),
        csv_bytes(report, snapshot),
    )


async def test_reports_say_what_they_said_before(any_db: Database, snapshot: Snapshot) -> None:
    await _dataset(any_db, snapshot, teams=4, per_team=60)
    async with any_db.transaction() as s:
        teams = await TeamRepo(s).all()
        by_team = {t.id: t for t in teams}
        everyone = await build_report(s, snapshot, None, NOW, DAYS)
        assert everyone.stuck and everyone.rows and any(r.team is None for r in everyone.rows)
        assert _content(everyone, snapshot) == _content(
            await _reference(s, snapshot, None, by_team), snapshot
        )
        blocks = await build_team_reports(s, snapshot, teams, NOW, DAYS)
        for team, in_block in zip(teams, blocks, strict=True):
            alone = await build_report(s, snapshot, team, NOW, DAYS)
            expected = _content(await _reference(s, snapshot, team, {team.id: team}), snapshot)
            assert _content(alone, snapshot) == expected, team.code
            assert _content(in_block, snapshot) == expected, team.code
        assert sum(len(r.stuck) for r in blocks) == len(everyone.stuck) - 1  # + the lonely one


async def test_streamed_stuck_rows_are_the_listed_ones_newest_citizen_first(
    any_db: Database, snapshot: Snapshot
) -> None:
    from storage.repos.lessons import LessonRepo

    await _dataset(any_db, snapshot, teams=3, per_team=40)
    async with any_db.transaction() as s:
        repo = LessonRepo(s)
        for idle in (NOW, NOW - timedelta(days=DAYS)):
            listed = await repo.stuck_rows(idle)
            streamed = [row async for row in repo.stream_stuck(idle, batch=7)]
            assert listed and any(row.team_id is None for row in listed)
            assert sorted(streamed) == sorted(listed)
            keys = [(row.user_id, row.skill_id) for row in streamed]
            assert keys == sorted(keys, reverse=True)


async def test_report_all_streams_per_team_lines_and_the_same_totals(
    any_db: Database, snapshot: Snapshot, config: Config, tmp_path: Path
) -> None:
    from bot.commands.team import report_command
    from storage.repos.followup import NoteRepo

    await _dataset(any_db, snapshot, teams=5, per_team=30)
    async with any_db.transaction() as s:
        teams = await TeamRepo(s).all()
        noted = (await TeamRepo(s).citizen_rows(teams[1].id))[0]
        assert await NoteRepo(s).write(noted.id, teams[1].id, "Hay quên mật khẩu", by=noted.id)
        everyone = await build_report(s, snapshot, None, NOW, DAYS, notes=True)
    await _stamp(any_db)  # tables made from the models: tell the CLI they are at the head
    config = Config(
        database=DatabaseConfig(url=any_db.url.render_as_string(hide_password=False)),
        content=config.content,
        base_dir=config.base_dir,
    )
    out = io.StringIO()
    table = tmp_path / "all.csv"
    with contextlib.redirect_stdout(out):
        code = await _in_thread(
            report_command, config, argparse.Namespace(team=None, all=True, csv=table)
        )
    assert code == 0
    from bot.channels.plain import strip_markup

    printed = out.getvalue()
    lines = printed.splitlines()
    assert [line.split()[0] for line in lines[: len(teams)]] == [t.code for t in teams]
    assert strip_markup(summary_text(everyone, snapshot)) in printed
    rows = list(csv.reader(io.StringIO(table.read_text(encoding="utf-8-sig"))))
    expected = list(csv.reader(io.StringIO(csv_bytes(everyone, snapshot).decode("utf-8-sig"))))
    assert rows[0] == expected[0]
    assert sorted(rows[1:]) == sorted(expected[1:])  # team by team instead of by name
    assert sum("Hay quên mật khẩu" in row for row in rows) == 1  # the team's note, for admins


async def _stamp(db: Database) -> None:
    from alembic import command

    from storage.migrate import alembic_config

    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: command.stamp(alembic_config(c), "head"))


async def _in_thread(fn: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *args)


@contextlib.contextmanager
def _longest_list() -> Iterator[dict[str, int]]:
    """Record the most bound values of any statement any engine runs, and the longest array."""
    seen = {"values": 0, "array": 0}

    def check(conn: Any, cur: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if many or not params:
            return
        values = list(params.values() if isinstance(params, dict) else params)
        arrays = [len(v) for v in values if isinstance(v, list | tuple)]
        seen["values"] = max(seen["values"], len(values))
        seen["array"] = max(seen["array"], 0, *arrays)

    event.listen(Engine, "before_cursor_execute", check)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", check)


async def test_no_statement_takes_a_list_longer_than_a_chunk(
    any_db: Database, snapshot: Snapshot, config: Config
) -> None:
    from bot.app import build_app

    # A team bigger than two chunks: a list of its citizens' ids would show.
    await _dataset(any_db, snapshot, teams=2, per_team=2 * MAX_LIST + 50)
    app = build_app(config, db=any_db)
    try:
        with _longest_list() as longest:
            async with any_db.transaction() as s:
                teams = await TeamRepo(s).all()
                await build_report(s, snapshot, teams[0], NOW, DAYS)
                await build_report(s, snapshot, None, NOW, DAYS)
                await build_team_reports(s, snapshot, teams, NOW, DAYS)
                await BroadcastRepo(s).count(Audience(team_id=teams[0].id))
                await TeamRepo(s).sizes()
            bid = await lesson_broadcast(any_db, teams[0].id)
            channels = {name: Recorder(name) for name in ("zalo", "telegram", "web")}
            app.services.clock = lambda: NOW + timedelta(days=1)
            pace = fast_config(batch_size=MAX_LIST + 100)
            w = BroadcastWorker(app.services, channels, config=pace)
            await until_done(w, any_db, bid, limit=60)
            later = NOW + timedelta(days=30)  # retention: the finished rows pruned in batches
            keep = RetentionConfig(delivery_days=7, question_days=30, batch_size=MAX_LIST + 100)
            assert (await prune_once(any_db, keep, now=later))[0] > MAX_LIST
        assert sum(len(c.sent) for c in channels.values()) > MAX_LIST
        # At most a chunk of ids (two values each for a (channel, id) pair), plus a few others.
        assert 0 < longest["values"] <= 2 * MAX_LIST + 20
        assert longest["array"] <= MAX_LIST
    finally:
        await app.stop()
