"""The team question queue: questions citizens send to their team (or the admins), and answers.

``QuestionRepo`` is importable from ``storage.repos.teams`` too, where the teams feature uses it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import TeamQuestion, User, utcnow
from storage.models.teams import ANSWERED, OPEN

MAX_QUESTION = 2000
MAX_ANSWER = 2000


class QuestionRepo:
    """The team question queue."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def ask(
        self,
        user: User,
        team_id: int | None,
        text: str,
        source: str,
        now: datetime | None = None,
    ) -> tuple[TeamQuestion, bool]:
        """Queue a question; returns it and whether it is new (the same open one is reused)."""
        text = text.strip()[:MAX_QUESTION]
        existing = (
            await self.session.execute(
                select(TeamQuestion).where(
                    TeamQuestion.user_id == user.id,
                    TeamQuestion.status == OPEN,
                    TeamQuestion.text == text,
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            return existing, False
        question = TeamQuestion(
            team_id=team_id,
            user_id=user.id,
            channel=user.channel,
            text=text,
            source=source[:16],
            status=OPEN,
            created_at=now or utcnow(),
        )
        self.session.add(question)
        await self.session.flush()
        return question, True

    async def get(self, question_id: int) -> TeamQuestion | None:
        """The question with this id."""
        return await self.session.get(TeamQuestion, question_id)

    def _queue(self, team_id: int | None) -> Select[TeamQuestion]:
        where = (
            TeamQuestion.team_id.is_(None) if team_id is None else (TeamQuestion.team_id == team_id)
        )
        return select(TeamQuestion).where(where, TeamQuestion.status == OPEN)

    async def open(self, team_id: int | None, limit: int = 20) -> list[TeamQuestion]:
        """Open questions of a team (``None``: the admin queue), oldest first."""
        result = await self.session.execute(
            self._queue(team_id).order_by(TeamQuestion.id).limit(limit)
        )
        return list(result.scalars())

    async def open_counts(self) -> dict[int | None, int]:
        """Open questions per team id (``None``: the admin queue), one GROUP BY."""
        result = await self.session.execute(
            select(TeamQuestion.team_id, func.count())
            .where(TeamQuestion.status == OPEN)
            .group_by(TeamQuestion.team_id)
        )
        return {team_id: int(n) for team_id, n in result.all()}

    async def open_count(self, team_id: int | None) -> int:
        """How many questions wait in a queue."""
        query = self._queue(team_id).with_only_columns(func.count(TeamQuestion.id))
        return int(await self.session.scalar(query) or 0)

    async def answer(
        self, question: TeamQuestion, by: User, text: str, now: datetime | None = None
    ) -> bool:
        """Record the answer; False when someone already answered it."""
        if question.status != OPEN:
            return False
        question.status = ANSWERED
        question.answer = text.strip()[:MAX_ANSWER]
        question.answered_by = by.id
        question.answered_at = now or utcnow()
        await self.session.flush()
        return True

    async def of_user(self, user_id: int) -> list[TeamQuestion]:
        """Every question a user sent, oldest first."""
        result = await self.session.execute(
            select(TeamQuestion).where(TeamQuestion.user_id == user_id).order_by(TeamQuestion.id)
        )
        return list(result.scalars())
