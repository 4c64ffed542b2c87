"""Lesson attempts, steps reached, quiz answers and completions (see storage/models/lessons.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LessonAttempt, LessonStep, QuizAnswer, SkillCompletion, User, utcnow
from storage.models.lessons import ABANDONED, FAILED, OPEN_STATUSES, PASSED, QUIZ, READING


@dataclass(frozen=True)
class SkillStatus:
    """Where one citizen stands on one skill."""

    skill_id: str
    passed: bool
    in_progress: bool
    best_score: float | None = None


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
        self, since: datetime, user_ids: Sequence[int] | None = None
    ) -> list[SkillCompletion]:
        """Completions first passed since ``since`` (optionally of some users), oldest first."""
        query = select(SkillCompletion).where(SkillCompletion.first_passed_at >= since)
        if user_ids is not None:
            query = query.where(SkillCompletion.user_id.in_(list(user_ids)))
        result = await self.session.execute(query.order_by(SkillCompletion.first_passed_at))
        return list(result.scalars())

    async def stuck(
        self, idle_before: datetime, user_ids: Sequence[int] | None = None
    ) -> list[LessonAttempt]:
        """Attempts left unfinished with no activity since ``idle_before``, or failed and never
        passed afterwards: the newest such attempt per citizen and skill."""
        passed = select(SkillCompletion.id).where(
            SkillCompletion.user_id == LessonAttempt.user_id,
            SkillCompletion.skill_id == LessonAttempt.skill_id,
        )
        newest = (
            select(func.max(LessonAttempt.id))
            .where(LessonAttempt.status != ABANDONED)
            .group_by(LessonAttempt.user_id, LessonAttempt.skill_id)
        )
        query = (
            select(LessonAttempt)
            .join(User, User.id == LessonAttempt.user_id)
            .where(
                LessonAttempt.id.in_(newest),
                ~passed.exists(),
                LessonAttempt.updated_at < idle_before,
                LessonAttempt.status.in_((*OPEN_STATUSES, FAILED)),
            )
        )
        if user_ids is not None:
            query = query.where(LessonAttempt.user_id.in_(list(user_ids)))
        result = await self.session.execute(query.order_by(LessonAttempt.updated_at))
        return list(result.scalars())
