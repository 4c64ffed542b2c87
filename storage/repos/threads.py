"""Follow-up threads between one member and one citizen, and their messages (see
``storage/models/followup.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FollowupMessage, FollowupThread, utcnow
from storage.models.followup import MESSAGE_LENGTH


class ThreadRepo:
    """Threads and their messages."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open(
        self,
        team_id: int | None,
        citizen_id: int,
        member_id: int,
        question_id: int | None = None,
        now: datetime | None = None,
    ) -> FollowupThread:
        """A new thread (its id is set: it goes into the citizen's "Trả lời tổ" button)."""
        now = now or utcnow()
        thread = FollowupThread(
            team_id=team_id,
            citizen_id=citizen_id,
            member_id=member_id,
            question_id=question_id,
            created_at=now,
            updated_at=now,
        )
        self.session.add(thread)
        await self.session.flush()
        return thread

    async def get(self, thread_id: int) -> FollowupThread | None:
        """The thread with this id."""
        return await self.session.get(FollowupThread, thread_id)

    async def add(
        self,
        thread: FollowupThread,
        from_citizen: bool,
        author_id: int,
        text: str,
        now: datetime | None = None,
    ) -> FollowupMessage:
        """Add a message to a thread (and move the thread's time)."""
        now = now or utcnow()
        message = FollowupMessage(
            thread_id=thread.id,
            from_citizen=from_citizen,
            author_id=author_id,
            text=text.strip()[:MESSAGE_LENGTH],
            at=now,
        )
        thread.updated_at = now
        self.session.add(message)
        await self.session.flush()
        return message

    async def messages(self, thread_id: int) -> list[FollowupMessage]:
        """A thread's messages, oldest first."""
        result = await self.session.execute(
            select(FollowupMessage)
            .where(FollowupMessage.thread_id == thread_id)
            .order_by(FollowupMessage.id)
        )
        return list(result.scalars())

    async def count_of(self, citizen_id: int) -> int:
        """How many messages the threads of a citizen hold (their data view)."""
        query = (
            select(func.count(FollowupMessage.id))
            .join(FollowupThread, FollowupThread.id == FollowupMessage.thread_id)
            .where(FollowupThread.citizen_id == citizen_id)
        )
        return int(await self.session.scalar(query) or 0)
