"""The question log: record questions and outcomes, feedback, and what admins need to export."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import QuestionLog, utcnow
from storage.models.answers import ASKED_BACK, FELL_BACK, HELPFUL, NOT_HELPFUL

MAX_TEXT = 2000


class AnswerRepo:
    """Queries on the question log within one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def log(
        self,
        *,
        user_id: int,
        channel: str,
        text: str,
        normalised: str,
        outcome: str,
        entry_id: str | None,
        choices: Sequence[str] = (),
        score: float = 0.0,
    ) -> QuestionLog:
        """Record a question and what the bot did with it; returns the row.

        The row is added to the session, not written: its id is known after the next flush
        (handlers put it in button payloads with ``Context.ref``)."""
        row = QuestionLog(
            user_id=user_id,
            channel=channel[:16],
            text=text[:MAX_TEXT],
            normalised=normalised[:MAX_TEXT],
            outcome=outcome,
            entry_id=entry_id,
            choices=list(choices),
            score=round(float(score), 4),
            created_at=utcnow(),
        )
        self.session.add(row)
        return row

    async def get(self, log_id: int) -> QuestionLog | None:
        """The row with this id."""
        return await self.session.get(QuestionLog, log_id)

    async def of_user(self, log_id: int, user_id: int) -> QuestionLog | None:
        """The row, only if it is this user's question."""
        row = await self.get(log_id)
        return row if row is not None and row.user_id == user_id else None

    async def chose(self, log_id: int, user_id: int, entry_id: str) -> int | None:
        """Record the entry the user picked after being asked back; returns the row's id, None
        when it is not this user's question (one UPDATE when it was an ask-back)."""
        picked = await self._update(
            log_id, user_id, {"entry_id": entry_id}, QuestionLog.outcome == ASKED_BACK
        )
        if picked is None and await self.of_user(log_id, user_id) is not None:
            return log_id  # the user's, but not an ask-back: nothing to record
        return picked

    async def feedback(self, log_id: int, user_id: int, helpful: bool) -> int | None:
        """Record 👍 / 👎 on the user's own question (a later press replaces an earlier one);
        returns the row's id, None when it is not this user's question. One UPDATE."""
        values = {"feedback": HELPFUL if helpful else NOT_HELPFUL, "feedback_at": utcnow()}
        return await self._update(log_id, user_id, values)

    async def _update(
        self, log_id: int, user_id: int, values: dict[str, object], *where: ColumnElement[bool]
    ) -> int | None:
        """Change the user's own row with one UPDATE ... RETURNING (no SELECT first, no flush of
        the session's other rows); a copy of the row already loaded in the session follows."""
        result = await self.session.execute(
            update(QuestionLog)
            .where(QuestionLog.id == log_id, QuestionLog.user_id == user_id, *where)
            .values(values)
            .returning(QuestionLog.id)
            .execution_options(autoflush=False, synchronize_session="evaluate")
        )
        found = result.scalar_one_or_none()
        return int(found) if found is not None else None

    async def count_for_user(self, user_id: int) -> int:
        """How many questions this user asked."""
        result = await self.session.execute(
            select(func.count(QuestionLog.id)).where(QuestionLog.user_id == user_id)
        )
        return int(result.scalar_one())

    async def last_of_user(self, user_id: int) -> QuestionLog | None:
        """The user's most recent question."""
        result = await self.session.execute(
            select(QuestionLog)
            .where(QuestionLog.user_id == user_id)
            .order_by(QuestionLog.id.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def unanswered_counts(
        self, since: datetime, limit: int
    ) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """What ``unanswered`` lists, counted: the questions that fell back (by normalised
        text, with the latest wording) and the entries that got 👎 (by entry id), most first."""
        fell = await self.session.execute(
            select(QuestionLog.normalised, func.count(), func.max(QuestionLog.text))
            .where(
                QuestionLog.outcome == FELL_BACK,
                or_(QuestionLog.feedback.is_(None), QuestionLog.feedback != NOT_HELPFUL),
                QuestionLog.created_at >= since,
            )
            .group_by(QuestionLog.normalised)
            .order_by(func.count().desc(), QuestionLog.normalised)
            .limit(limit)
        )
        down = await self.session.execute(
            select(QuestionLog.entry_id, func.count())
            .where(
                QuestionLog.feedback == NOT_HELPFUL,
                QuestionLog.entry_id.is_not(None),
                QuestionLog.created_at >= since,
            )
            .group_by(QuestionLog.entry_id)
            .order_by(func.count().desc(), QuestionLog.entry_id)
            .limit(limit)
        )
        questions = [(str(text), int(n)) for _norm, n, text in fell.all()]
        entries = [(str(entry), int(n)) for entry, n in down.all()]
        return questions, entries

    async def unanswered(
        self, since: datetime | None = None, limit: int | None = None
    ) -> list[QuestionLog]:
        """Questions that fell back or got 👎, oldest first: the content still to write."""
        query = select(QuestionLog).where(
            or_(QuestionLog.outcome == FELL_BACK, QuestionLog.feedback == NOT_HELPFUL)
        )
        if since is not None:
            query = query.where(QuestionLog.created_at >= since)
        query = query.order_by(QuestionLog.created_at, QuestionLog.id)
        if limit is not None:
            query = query.limit(limit)
        return list((await self.session.execute(query)).scalars().all())
