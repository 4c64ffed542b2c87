"""Lesson records on SQLite and PostgreSQL: attempts, answers once, one completion with the best
score, and the queries team reports use (completions since a date, citizens stuck)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import QuizAnswer, SkillCompletion, Team, TeamMembership, User
from storage.repos.lessons import LessonRepo

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def make_user(db: Database, external_id: str, channel: str = "zalo") -> int:
    async with db.transaction() as session:
        user = User(channel=channel, external_id=external_id, consent_at=T0)
        session.add(user)
        await session.flush()
        return user.id


async def test_attempts_steps_answers_and_one_completion(any_db: Database) -> None:
    uid = await make_user(any_db, "a")
    async with any_db.transaction() as session:
        repo = LessonRepo(session)
        first = await repo.start(uid, "sk_x", "zalo", now=T0)
        await repo.reach_step(first, "mot", 1, "zalo", T0)
        await repo.reach_step(first, "mot", 1, "zalo", T0)  # shown again: recorded once
        await repo.reach_step(first, "hai", 2, "zalo", T0 + timedelta(minutes=1))
        await repo.ask(first, "c1", T0 + timedelta(minutes=2))
        assert await repo.answer(first, "c1", 2, False, "zalo", T0 + timedelta(minutes=3))
        assert not await repo.answer(first, "c1", 1, True, "zalo")  # never a second answer
        assert await repo.finish(first, correct=0, total=1, passed=False) is None
        steps = await repo.steps(first.id)
        assert [(s.step_id, s.position) for s in steps] == [("mot", 1), ("hai", 2)]

        second = await repo.start(uid, "sk_x", "zalo", quiz_only=True, now=T0 + timedelta(hours=1))
        assert second.number == 2 and second.status == "quiz"
        await repo.answer(second, "c1", 1, True, "zalo")
        completion = await repo.finish(second, correct=4, total=5, passed=True)
        assert completion is not None and completion.best_score == 0.8

        third = await repo.start(uid, "sk_x", "zalo")
        again = await repo.finish(third, correct=5, total=5, passed=True)
        fourth = await repo.start(uid, "sk_x", "zalo")
        await repo.finish(fourth, correct=4, total=5, passed=True)
    async with any_db.transaction() as session:
        repo = LessonRepo(session)
        completions = await repo.completions(uid)
        assert len(completions) == 1
        assert completions[0].best_score == 1.0 and completions[0].passes == 3
        assert again is not None and completions[0].best_attempt_id == third.id
        assert completions[0].channel == "zalo"
        answers = await repo.answers(first.id)
        assert {k: (a.choice, a.correct) for k, a in answers.items()} == {"c1": (2, False)}
        assert answers["c1"].answered_at == T0 + timedelta(minutes=3)
        statuses = await repo.statuses(uid)
        assert statuses["sk_x"].passed and not statuses["sk_x"].in_progress


async def test_database_refuses_a_second_answer_or_completion(any_db: Database) -> None:
    uid = await make_user(any_db, "b")
    async with any_db.transaction() as session:
        attempt = await LessonRepo(session).start(uid, "sk_x", "web")
        attempt_id = attempt.id
        session.add(
            QuizAnswer(
                attempt_id=attempt_id,
                user_id=uid,
                skill_id="sk_x",
                question_id="q",
                choice=1,
                correct=True,
                channel="web",
            )
        )
        session.add(SkillCompletion(user_id=uid, skill_id="sk_x", channel="web", best_score=1.0))
    with pytest.raises(IntegrityError):
        async with any_db.transaction() as session:
            session.add(
                QuizAnswer(
                    attempt_id=attempt_id,
                    user_id=uid,
                    skill_id="sk_x",
                    question_id="q",
                    choice=2,
                    correct=False,
                    channel="web",
                )
            )
    with pytest.raises(IntegrityError):
        async with any_db.transaction() as session:
            session.add(
                SkillCompletion(user_id=uid, skill_id="sk_x", channel="web", best_score=0.5)
            )


async def test_starting_again_abandons_the_open_attempt(any_db: Database) -> None:
    uid = await make_user(any_db, "c")
    async with any_db.transaction() as session:
        repo = LessonRepo(session)
        first = await repo.start(uid, "sk_x", "web", now=T0)
        other = await repo.start(uid, "sk_y", "web", now=T0)
        second = await repo.start(uid, "sk_x", "web", now=T0 + timedelta(minutes=5))
        assert first.status == "abandoned" and first.finished_at == T0 + timedelta(minutes=5)
        assert await repo.open_attempt(uid, "sk_x") is second
        assert (await repo.open_attempt(uid, "sk_y")) is other
        statuses = await repo.statuses(uid)
        assert statuses["sk_x"].in_progress and not statuses["sk_x"].passed


async def test_report_queries_completions_and_stuck(any_db: Database) -> None:
    done = await make_user(any_db, "done")
    idle = await make_user(any_db, "idle")
    failed = await make_user(any_db, "failed")
    fresh = await make_user(any_db, "fresh")
    later_passed = await make_user(any_db, "later")
    async with any_db.transaction() as session:
        repo = LessonRepo(session)
        a = await repo.start(done, "sk_x", "zalo", now=T0)
        await repo.finish(a, correct=3, total=3, passed=True, now=T0 + timedelta(minutes=10))
        await repo.start(idle, "sk_x", "zalo", now=T0)  # left half way, days ago
        b = await repo.start(failed, "sk_x", "telegram", now=T0)
        await repo.finish(b, correct=1, total=3, passed=False, now=T0 + timedelta(minutes=5))
        await repo.start(fresh, "sk_x", "web", now=T0 + timedelta(days=3))  # active just now
        c = await repo.start(later_passed, "sk_x", "web", now=T0)
        await repo.finish(c, correct=1, total=3, passed=False, now=T0)
        d = await repo.start(later_passed, "sk_x", "web", quiz_only=True, now=T0)
        await repo.finish(d, correct=3, total=3, passed=True, now=T0 + timedelta(minutes=1))
    async with any_db.transaction() as session:
        repo = LessonRepo(session)
        since = await repo.completed_since(T0)
        assert sorted(c.user_id for c in since) == sorted([done, later_passed])
        assert await repo.completed_since(T0 + timedelta(days=1)) == []
        stuck = await repo.stuck(T0 + timedelta(days=2))
        assert sorted(s.user_id for s in stuck) == sorted([idle, failed])
        by_user = {s.user_id: s for s in stuck}
        assert by_user[idle].status == "reading" and by_user[idle].finished_at is None
        assert by_user[failed].status == "failed" and by_user[failed].channel == "telegram"
        team = Team(name="Tổ", commune="Xã", village="Thôn", code="TEAM01")
        session.add(team)
        await session.flush()
        session.add(TeamMembership(user_id=idle, team_id=team.id, joined_by="code"))
        await session.flush()
        assert [s.user_id for s in await repo.stuck(T0 + timedelta(days=2), team.id)] == [idle]
        assert [s.user_id for s in await repo.completed_since(T0, team.id)] == []
