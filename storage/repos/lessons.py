"""Lesson attempts, steps reached, quiz answers and completions (see storage/models/lessons.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, exists, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    LessonAttempt,
    LessonStep,
    QuizAnswer,
    SkillCompletion,
    TeamMembership,
    utcnow,
)
from storage.models.lessons import ABANDONED, FAILED, OPEN_STATUSES, PASSED, QUIZ, READING
from storage.repos.scope import EVERY_TEAM, Scope, of_citizens, plain_rows


@dataclass(frozen=True)
class SkillStatus:
    """Where one citizen stands on one skill."""

    skill_id: str
    passed: bool
    in_progress: bool
    best_score: float | None = None


class StuckRow(NamedTuple):
    """What a report needs of a stuck attempt, and the citizen's team (None: no team)."""

    id: int
    user_id: int
    skill_id: str
    status: str
    step_id: str | None
    updated_at: datetime
    correct: int | None
    total: int | None
    team_id: int | None


class LessonRepo:
    """Reads and writes a citizen's lesson records."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- attempts -------------------------------------------------------------------------

    async def start(
        self,
        user_id: int,
        skill_id: str,
        channel: str,
        *,
        quiz_only: bool = False,
        now: datetime | None = None,
    ) -> LessonAttempt:
        """A new attempt; any open attempt of this citizen at this skill is marked abandoned."""
        now = now or utcnow()
        still_open = await self.session.execute(
            select(LessonAttempt).where(
                LessonAttempt.user_id == user_id,
                LessonAttempt.skill_id == skill_id,
                LessonAttempt.status.in_(OPEN_STATUSES),
            )
        )
        for old in still_open.scalars():
            old.status = ABANDONED
            old.finished_at = now
            old.updated_at = now
        count = await self.session.scalar(
            select(func.count(LessonAttempt.id)).where(
                LessonAttempt.user_id == user_id, LessonAttempt.skill_id == skill_id
            )
        )
        attempt = LessonAttempt(
            user_id=user_id,
            skill_id=skill_id,
            channel=channel[:16],
            number=int(count or 0) + 1,
            status=QUIZ if quiz_only else READING,
            started_at=now,
            updated_at=now,
            quiz_started_at=now if quiz_only else None,
        )
        self.session.add(attempt)
        await self.session.flush()
        return attempt

    async def get(self, attempt_id: int, user_id: int) -> LessonAttempt | None:
        """An attempt, only if it belongs to this user."""
        attempt = await self.session.get(LessonAttempt, attempt_id)
        return attempt if attempt is not None and attempt.user_id == user_id else None

    async def latest(self, user_id: int, skill_id: str) -> LessonAttempt | None:
        """The newest attempt of this citizen at this skill."""
        result = await self.session.execute(
            select(LessonAttempt)
            .where(LessonAttempt.user_id == user_id, LessonAttempt.skill_id == skill_id)
            .order_by(LessonAttempt.id.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def open_attempt(self, user_id: int, skill_id: str) -> LessonAttempt | None:
        """The attempt of this citizen at this skill that is still going, if any."""
        latest = await self.latest(user_id, skill_id)
        return latest if latest is not None and latest.status in OPEN_STATUSES else None

    async def reach_step(
        self,
        attempt: LessonAttempt,
        step_id: str,
        position: int,
        channel: str,
        now: datetime | None = None,
    ) -> None:
        """Record that a step was shown (once per attempt) and move the attempt there."""
        now = now or utcnow()
        seen = await self.session.scalar(
            select(LessonStep.id).where(
                LessonStep.attempt_id == attempt.id, LessonStep.step_id == step_id
            )
        )
        if seen is None:
            self.session.add(
                LessonStep(
                    attempt_id=attempt.id,
                    user_id=attempt.user_id,
                    skill_id=attempt.skill_id,
                    step_id=step_id,
                    position=position,
                    channel=channel[:16],
                    reached_at=now,
                )
            )
        attempt.step_id = step_id
        attempt.status = READING
        attempt.updated_at = now

    async def steps(self, attempt_id: int) -> list[LessonStep]:
        """The steps reached in an attempt, in order."""
        result = await self.session.execute(
            select(LessonStep).where(LessonStep.attempt_id == attempt_id).order_by(LessonStep.id)
        )
        return list(result.scalars())

    async def ask(
        self, attempt: LessonAttempt, question_id: str, now: datetime | None = None
    ) -> None:
        """Move the attempt to a quiz question."""
        now = now or utcnow()
        if attempt.quiz_started_at is None:
            attempt.quiz_started_at = now
        attempt.status = QUIZ
        attempt.question_id = question_id
        attempt.updated_at = now

    async def answers(self, attempt_id: int) -> dict[str, QuizAnswer]:
        """The answers given in an attempt, by question id."""
        result = await self.session.execute(
            select(QuizAnswer).where(QuizAnswer.attempt_id == attempt_id).order_by(QuizAnswer.id)
        )
        return {a.question_id: a for a in result.scalars()}

    async def answer(
        self,
        attempt: LessonAttempt,
        question_id: str,
        choice: int,
        correct: bool,
        channel: str,
        now: datetime | None = None,
    ) -> bool:
        """Record an answer; False (and nothing stored) when this question was already answered."""
        now = now or utcnow()
        existing = await self.session.scalar(
            select(QuizAnswer.id).where(
                QuizAnswer.attempt_id == attempt.id, QuizAnswer.question_id == question_id
            )
        )
        if existing is not None:
            return False
        self.session.add(
            QuizAnswer(
                attempt_id=attempt.id,
                user_id=attempt.user_id,
                skill_id=attempt.skill_id,
                question_id=question_id,
                choice=choice,
                correct=correct,
                channel=channel[:16],
                answered_at=now,
            )
        )
        attempt.updated_at = now
        await self.session.flush()
        return True

    async def finish(
        self,
        attempt: LessonAttempt,
        *,
        correct: int,
        total: int,
        passed: bool,
        now: datetime | None = None,
    ) -> SkillCompletion | None:
        """Close an attempt with its result; a pass creates or improves the one completion."""
        now = now or utcnow()
        score = correct / total if total else 0.0
        attempt.correct = correct
        attempt.total = total
        attempt.score = score
        attempt.passed = passed
        attempt.status = PASSED if passed else FAILED
        attempt.question_id = None
        attempt.finished_at = now
        attempt.updated_at = now
        if not passed:
            await self.session.flush()
            return None
        completion = await self.completion(attempt.user_id, attempt.skill_id)
        if completion is None:
            completion = SkillCompletion(
                user_id=attempt.user_id,
                skill_id=attempt.skill_id,
                channel=attempt.channel,
                best_score=score,
                best_attempt_id=attempt.id,
                passes=1,
                first_passed_at=now,
                last_passed_at=now,
            )
            self.session.add(completion)
        else:
            completion.passes += 1
            completion.last_passed_at = now
            if score > completion.best_score:
                completion.best_score = score
                completion.best_attempt_id = attempt.id
        await self.session.flush()
        return completion

    async def leave(self, attempt: LessonAttempt, now: datetime | None = None) -> None:
        """The citizen left the lesson ("dừng"); the attempt stays open to resume later."""
        now = now or utcnow()
        attempt.left_at = now
        attempt.updated_at = now

    # --- what a citizen has done ------------------------------------------------------------

    async def completion(self, user_id: int, skill_id: str) -> SkillCompletion | None:
        """This citizen's completion of this skill, if passed."""
        result = await self.session.execute(
            select(SkillCompletion).where(
                SkillCompletion.user_id == user_id, SkillCompletion.skill_id == skill_id
            )
        )
        return result.scalar_one_or_none()

    async def completions(self, user_id: int) -> list[SkillCompletion]:
        """Every skill this citizen passed, oldest first."""
        result = await self.session.execute(
            select(SkillCompletion)
            .where(SkillCompletion.user_id == user_id)
            .order_by(SkillCompletion.first_passed_at, SkillCompletion.id)
        )
        return list(result.scalars())

    async def statuses(self, user_id: int) -> dict[str, SkillStatus]:
        """Per skill id: passed (with best score) and/or an attempt in progress."""
        done = {c.skill_id: c.best_score for c in await self.completions(user_id)}
        result = await self.session.execute(
            select(LessonAttempt.skill_id)
            .where(LessonAttempt.user_id == user_id, LessonAttempt.status.in_(OPEN_STATUSES))
            .distinct()
        )
        going = set(result.scalars())
        return {
            skill: SkillStatus(
                skill_id=skill,
                passed=skill in done,
                in_progress=skill in going,
                best_score=done.get(skill),
            )
            for skill in set(done) | going
        }

    # --- for team reports ---------------------------------------------------------------------

    async def completed_since(
        self, since: datetime, team_id: int | None = None
    ) -> list[SkillCompletion]:
        """Completions first passed since ``since`` (of one team's citizens when given), oldest
        first."""
        query = select(SkillCompletion).where(SkillCompletion.first_passed_at >= since)
        if team_id is not None:
            query = query.join(
                TeamMembership, TeamMembership.user_id == SkillCompletion.user_id
            ).where(TeamMembership.team_id == team_id)
        result = await self.session.execute(query.order_by(SkillCompletion.first_passed_at))
        return list(result.scalars())

    def stuck_query(
        self, idle_before: datetime, teams: Scope = EVERY_TEAM, *columns: Any
    ) -> Select[Any]:
        """SELECT the attempts of ``stuck`` (or just ``columns`` of them): the newest attempt of
        each citizen and skill (no newer one that was not abandoned, found through the
        (user, skill, id) index, never by aggregating every attempt), idle since
        ``idle_before`` or failed, and not passed since."""
        newer = aliased(LessonAttempt)
        replaced = exists().where(
            newer.user_id == LessonAttempt.user_id,
            newer.skill_id == LessonAttempt.skill_id,
            newer.id > LessonAttempt.id,
            newer.status != ABANDONED,
        )
        passed = exists().where(
            SkillCompletion.user_id == LessonAttempt.user_id,
            SkillCompletion.skill_id == LessonAttempt.skill_id,
        )
        query = select(*(columns or (LessonAttempt,))).where(
            LessonAttempt.status.in_((*OPEN_STATUSES, FAILED)),
            LessonAttempt.updated_at < idle_before,
            ~replaced,
            ~passed,
        )
        return of_citizens(query, LessonAttempt.user_id, teams)

    async def stuck(self, idle_before: datetime, teams: Scope = EVERY_TEAM) -> list[LessonAttempt]:
        """Attempts left unfinished with no activity since ``idle_before``, or failed and never
        passed afterwards: the newest such attempt per citizen and skill, of the consented
        citizens of ``teams`` (a team id, a block of team ids, or every team)."""
        query = self.stuck_query(idle_before, teams).order_by(
            LessonAttempt.updated_at, LessonAttempt.id
        )
        return list((await self.session.execute(query)).scalars())

    def _stuck_rows(self, idle_before: datetime, teams: Scope) -> Select[Any]:
        return self.stuck_query(
            idle_before,
            teams,
            LessonAttempt.id,
            LessonAttempt.user_id,
            LessonAttempt.skill_id,
            LessonAttempt.status,
            LessonAttempt.step_id,
            LessonAttempt.updated_at,
            LessonAttempt.correct,
            LessonAttempt.total,
            TeamMembership.team_id,
        )

    async def stuck_rows(self, idle_before: datetime, teams: Scope = EVERY_TEAM) -> list[StuckRow]:
        """``stuck`` as plain rows (what reports need, no ORM object), oldest activity first."""
        query = self._stuck_rows(idle_before, teams).order_by(
            LessonAttempt.updated_at, LessonAttempt.id
        )
        return [StuckRow(*row) for row in await plain_rows(self.session, query)]

    def _newest_stuck_rows(self, idle_before: datetime) -> Select[Any]:
        """``_stuck_rows`` over every citizen, newest citizen first, for PostgreSQL: the newest
        attempt not abandoned of each citizen and skill is the first of its group in a backward
        scan of the (user, skill, id) index (``DISTINCT ON``), kept when it is open or failed,
        idle since ``idle_before`` and not passed. Every join is then an index probe in that
        order: no hash of every attempt, no sort, memory bounded by the cursor's batch."""
        a = LessonAttempt
        newest = (
            select(a.id, a.user_id, a.skill_id, a.status, a.step_id, a.updated_at)
            .add_columns(a.correct, a.total)
            .where(a.status != ABANDONED)
            .ext(distinct_on(a.user_id, a.skill_id))
            .order_by(a.user_id.desc(), a.skill_id.desc(), a.id.desc())
            .subquery("newest")
        )
        passed = exists().where(
            SkillCompletion.user_id == newest.c.user_id,
            SkillCompletion.skill_id == newest.c.skill_id,
        )
        query = (
            select(*newest.c, TeamMembership.team_id)
            .select_from(newest)
            .where(
                newest.c.status.in_((*OPEN_STATUSES, FAILED)),
                newest.c.updated_at < idle_before,
                ~passed,
            )
        )
        query = of_citizens(query, newest.c.user_id, EVERY_TEAM)
        return query.order_by(newest.c.user_id.desc(), newest.c.skill_id.desc())

    async def stream_stuck(
        self, idle_before: datetime, teams: Scope = EVERY_TEAM, batch: int = 5000
    ) -> AsyncIterator[StuckRow]:
        """``stuck`` as plain rows with each citizen's team, by citizen (the newest first),
        streamed through a server-side cursor: bounded memory over every team, and no ORM
        object per row."""
        if teams is None and self.session.get_bind().dialect.name == "postgresql":
            query = self._newest_stuck_rows(idle_before)
        else:
            query = self._stuck_rows(idle_before, teams).order_by(
                LessonAttempt.user_id.desc(), LessonAttempt.skill_id.desc()
            )
        await self.session.flush()
        connection = await self.session.connection()
        result = await connection.stream(query.execution_options(yield_per=batch))
        async for rows in result.partitions(batch):  # a batch per hand-off, not a row
            for row in rows:
                yield StuckRow(*row)
