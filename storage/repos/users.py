"""Users: find or create by channel and external id, roles, consent, reachability."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import User, utcnow

LAST_SEEN_STEP = timedelta(minutes=10)  # how precisely "last seen" is kept


class UserRepo:
    """Queries on users within one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> User | None:
        """The user with this id, if any."""
        return await self.session.get(User, user_id)

    async def find(self, channel: str, external_id: str) -> User | None:
        """The user with this channel and external id, if any."""
        result = await self.session.execute(
            select(User).where(User.channel == channel, User.external_id == external_id)
        )
        return result.scalar_one_or_none()

    async def seen(self, channel: str, external_id: str, display_name: str | None) -> User:
        """Find or create the user and record that they were just seen.

        The display name is only kept once the user has consented.
        """
        user = await self.find(channel, external_id)
        now = utcnow()
        if user is None:
            user = User(channel=channel, external_id=external_id, first_seen=now, last_seen=now)
            self.session.add(user)
            await self.session.flush()
            return user
        if now - user.last_seen >= LAST_SEEN_STEP:
            user.last_seen = now  # not on every message: one write less per turn
        if user.consent_at is not None and display_name and user.display_name != display_name:
            user.display_name = display_name[:128]
        if user.unreachable_at is not None:
            user.unreachable_at = None
        return user

    async def mark_unreachable(self, user_id: int) -> None:
        """Record that messages to this user fail for good (they blocked the bot)."""
        user = await self.get(user_id)
        if user is not None and user.unreachable_at is None:
            user.unreachable_at = utcnow()
