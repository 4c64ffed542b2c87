"""A realistic dataset of N teams x M citizens, written fast (COPY on PostgreSQL, multi-row
INSERTs on SQLite) through the project's own models: for ``bench/scale.py`` and the scale tests.

Per team: a lead and a member, M citizens on Zalo/Telegram/web (97% consented, 1% unreachable,
0.5% opted out), about 2.5 lesson attempts per citizen (passed, failed, stuck in the middle,
abandoned), their completions, some in-person guidance, the question log, open and answered team
questions, and for one team in ten a finished broadcast with its deliveries. Ids are given
explicitly (no RETURNING), so rows of a batch go in one COPY.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.snapshot import Snapshot
from storage.db import Database
from storage.models import Base

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
CHANNELS = (("zalo", 0.6), ("telegram", 0.3), ("web", 0.1))
CHUNK = 20_000  # rows per COPY / INSERT batch


def _tables() -> dict[str, Table]:
    return {name: table for name, table in Base.metadata.tables.items()}


class Loader:
    """Writes rows to a table: COPY on PostgreSQL, multi-row INSERTs on SQLite."""

    def __init__(self, session: AsyncSession, pg: bool) -> None:
        self.session = session
        self.pg = pg
        self.tables = _tables()
        self.counts: dict[str, int] = {}

    async def write(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        """Append ``rows`` (dicts with the same keys) to table ``name``."""
        if not rows:
            return
        self.counts[name] = self.counts.get(name, 0) + len(rows)
        if self.pg:
            columns = list(rows[0])
            conn = await self.session.connection()
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.copy_records_to_table(
                name, records=[tuple(r[c] for c in columns) for r in rows], columns=columns
            )
        else:
            await self.session.execute(insert(self.tables[name]), list(rows))


@dataclass
class Shape:
    """What the dataset holds, for reuse checks and for the operations."""

    teams: int
    per_team: int
    seed: int = 19

    def key(self) -> str:
        """A label stored in the database: the dataset is reused only for the same shape."""
        return f"scale:{self.teams}x{self.per_team}:seed{self.seed}"


def _channel(rng: random.Random) -> str:
    roll = rng.random()
    total = 0.0
    for name, share in CHANNELS:
        total += share
        if roll < total:
            return name
    return CHANNELS[-1][0]


def _ago(rng: random.Random, days: float) -> datetime:
    return NOW - timedelta(seconds=rng.uniform(0, days * 86400))


class Builder:
    """Generates one team at a time and hands the rows to a ``Loader``."""

    def __init__(self, shape: Shape, snapshot: Snapshot) -> None:
        self.shape = shape
        self.rng = random.Random(shape.seed)
        self.skills = [
            (s.id, [st.id for st in s.steps], [q.id for q in s.quiz])
            for s in snapshot.lessons.skills
        ]
        self.ids: dict[str, int] = {}

    def next_id(self, table: str) -> int:
        """The next primary key of ``table`` (ids are given explicitly, so no RETURNING)."""
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    def team(self, index: int) -> dict[str, list[dict[str, Any]]]:
        """Every row of one team."""
        rng = self.rng
        out: dict[str, list[dict[str, Any]]] = {}

        def add(table: str, row: dict[str, Any]) -> None:
            out.setdefault(table, []).append(row)

        team_id = self.next_id("teams")
        commune = f"Xã {index // 10:05d}"
        add(
            "teams",
            {
                "id": team_id,
                "name": f"Tổ CNS thôn {index:05d}",
                "commune": commune,
                "village": f"Thôn {index % 10}",
                "code": f"T{index:07d}",
                "created_at": NOW - timedelta(days=200),
            },
        )
        staff: list[int] = []
        for role in ("lead", "member"):
            uid = self.next_id("users")
            staff.append(uid)
            add("users", self._user(uid, f"s{index}-{role}", role, "telegram", True, False))
            add("team_memberships", self._member(uid, team_id, "invite"))
        citizens: list[int] = []
        for n in range(self.shape.per_team):
            uid = self.next_id("users")
            channel = _channel(rng)
            consented = rng.random() < 0.97
            gone = rng.random() < 0.01
            add("users", self._user(uid, f"c{index}-{n}", "citizen", channel, consented, gone))
            add("team_memberships", self._member(uid, team_id, "code"))
            if not consented:
                continue
            citizens.append(uid)
            if rng.random() < 0.005:
                add("broadcast_optouts", {"user_id": uid, "at": _ago(rng, 60)})
            self._lessons(add, uid, channel, team_id, staff[0])
            for _ in range(rng.choice((0, 0, 1, 1, 2))):
                self._logged_question(add, uid, channel)
            if rng.random() < 0.02:
                self._team_question(add, uid, channel, team_id, staff[1])
        if index % 10 == 0:
            self._broadcast(add, team_id, staff[0], citizens)
        return out

    def _user(
        self, uid: int, ext: str, role: str, channel: str, consented: bool, gone: bool
    ) -> dict[str, Any]:
        seen = _ago(self.rng, 180)
        return {
            "id": uid,
            "channel": channel,
            "external_id": ext,
            "display_name": f"Người dùng {uid}",
            "role": role,
            "consent_at": seen if consented else None,
            "first_seen": seen,
            "last_seen": seen,
            "unreachable_at": NOW - timedelta(days=3) if gone else None,
        }

    def _member(self, uid: int, team_id: int, how: str) -> dict[str, Any]:
        return {
            "user_id": uid,
            "team_id": team_id,
            "joined_by": how,
            "joined_at": _ago(self.rng, 180),
        }

    def _lessons(
        self, add: Callable[[str, dict[str, Any]], None], uid: int, channel: str, team: int, by: int
    ) -> None:
        rng = self.rng
        for skill, steps, quiz in rng.sample(self.skills, min(len(self.skills), rng.randint(0, 3))):
            tries = rng.choice((1, 1, 1, 2, 3))
            completion: dict[str, Any] | None = None
            for number in range(1, tries + 1):
                last = number == tries
                status = (
                    rng.choices(("passed", "failed", "reading", "quiz"), (50, 15, 20, 15))[0]
                    if last
                    else rng.choice(("failed", "abandoned"))
                )
                started = _ago(rng, 90)
                updated = started + timedelta(minutes=rng.uniform(1, 30))
                finished = status in ("passed", "failed", "abandoned")
                correct = rng.randint(0, len(quiz)) if status in ("passed", "failed") else None
                aid = self.next_id("lesson_attempts")
                add(
                    "lesson_attempts",
                    {
                        "id": aid,
                        "user_id": uid,
                        "skill_id": skill,
                        "channel": channel,
                        "number": number,
                        "status": status,
                        "step_id": rng.choice(steps) if steps else None,
                        "question_id": rng.choice(quiz) if status == "quiz" and quiz else None,
                        "started_at": started,
                        "updated_at": updated,
                        "quiz_started_at": updated if status != "reading" else None,
                        "finished_at": updated if finished else None,
                        "left_at": None,
                        "correct": correct,
                        "total": len(quiz) if correct is not None else None,
                        "score": correct / len(quiz) if correct is not None and quiz else None,
                        "passed": (status == "passed") if finished else None,
                    },
                )
                if status == "passed":
                    completion = {
                        "id": self.next_id("skill_completions"),
                        "user_id": uid,
                        "skill_id": skill,
                        "channel": channel,
                        "best_score": 1.0,
                        "best_attempt_id": aid,
                        "passes": 1,
                        "first_passed_at": updated,
                        "last_passed_at": updated,
                    }
            if completion is not None:
                add("skill_completions", completion)
            elif rng.random() < 0.05:
                add(
                    "guided_skills",
                    {
                        "id": self.next_id("guided_skills"),
                        "user_id": uid,
                        "skill_id": skill,
                        "team_id": team,
                        "guided_by": by,
                        "guided_at": _ago(rng, 30),
                    },
                )

    def _logged_question(
        self, add: Callable[[str, dict[str, Any]], None], uid: int, channel: str
    ) -> None:
        rng = self.rng
        outcome = rng.choices(("answer", "ask", "fallback"), (80, 10, 10))[0]
        add(
            "question_log",
            {
                "id": self.next_id("question_log"),
                "user_id": uid,
                "channel": channel,
                "text": "lam sao dang ky tai khoan dinh danh",
                "normalised": "lam sao dang ky tai khoan dinh danh",
                "outcome": outcome,
                "entry_id": "vneid_register" if outcome == "answer" else None,
                "choices": "[]",
                "score": rng.random(),
                "feedback": rng.choice((None, None, "up", "down")),
                "feedback_at": None,
                "created_at": _ago(rng, 120),
            },
        )

    def _team_question(
        self, add: Callable[[str, dict[str, Any]], None], uid: int, ch: str, team: int, by: int
    ) -> None:
        rng = self.rng
        answered = rng.random() < 0.6
        asked = _ago(rng, 30)
        add(
            "team_questions",
            {
                "id": self.next_id("team_questions"),
                "team_id": team,
                "user_id": uid,
                "channel": ch,
                "text": "Cho tôi hỏi cách nộp thuế đất trên điện thoại?",
                "source": "fallback",
                "status": "answered" if answered else "open",
                "created_at": asked,
                "answer": "Bác ra nhà văn hóa chiều thứ 7 nhé." if answered else None,
                "answered_by": by if answered else None,
                "answered_at": asked + timedelta(hours=5) if answered else None,
            },
        )

    def _broadcast(
        self, add: Callable[[str, dict[str, Any]], None], team: int, by: int, citizens: list[int]
    ) -> None:
        rng = self.rng
        bid = self.next_id("broadcasts")
        skill = self.skills[0][0]
        at = _ago(rng, 30)
        add(
            "broadcasts",
            {
                "id": bid,
                "team_id": team,
                "kind": "lesson",
                "skill_id": skill,
                "title": "Bài học",
                "body": "Mời bạn học bài mới.",
                "audience": "all",
                "scheduled_at": at,
                "created_by": by,
                "created_at": at,
                "status": "done",
                "finished_at": at + timedelta(minutes=5),
            },
        )
        for uid in citizens:
            add(
                "broadcast_deliveries",
                {
                    "id": self.next_id("broadcast_deliveries"),
                    "broadcast_id": bid,
                    "user_id": uid,
                    "channel": "zalo",
                    "state": "sent",
                    "reason": None,
                    "attempts": 1,
                    "next_attempt_at": at,
                    "claimed_by": None,
                    "claimed_at": None,
                    "sent_at": at + timedelta(seconds=rng.uniform(0, 300)),
                    "updated_at": at,
                },
            )


ORDER = (
    "teams",
    "users",
    "team_memberships",
    "broadcast_optouts",
    "lesson_attempts",
    "skill_completions",
    "guided_skills",
    "question_log",
    "team_questions",
    "broadcasts",
    "broadcast_deliveries",
)


async def fill(
    db: Database,
    shape: Shape,
    snapshot: Snapshot,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the dataset of ``shape`` into an empty database; returns rows per table."""
    builder = Builder(shape, snapshot)
    pending: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}

    async def flush() -> None:
        async with db.transaction() as session:
            loader = Loader(session, not db.is_sqlite)
            for name in ORDER:
                await loader.write(name, pending.pop(name, []))
        for name, n in loader.counts.items():
            counts[name] = counts.get(name, 0) + n

    for index in range(shape.teams):
        for name, rows in builder.team(index).items():
            pending.setdefault(name, []).extend(rows)
        if sum(len(r) for r in pending.values()) >= CHUNK * 5:
            await flush()
        if progress is not None and index and index % 1000 == 0:
            progress(index)
    await flush()
    if not db.is_sqlite:
        async with db.transaction() as session:
            for name, last in builder.ids.items():
                await session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {last + 10})")
                )
    return counts
