"""Users: find or create by channel and external id, roles, consent, reachability."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import User, utcnow
from storage.repos.lists import chunks

LAST_SEEN_STEP = timedelta(minutes=10)  # how precisely "last seen" is kept


def _touch(user: User, display_name: str | None, now: datetime) -> None:
    """A user was just seen: last seen (coarsely), their name once consented, reachable again."""
    if now - user.last_seen >= LAST_SEEN_STEP:
        user.last_seen = now  # not on every message: one write less per turn
    if user.consent_at is not None and display_name and user.display_name != display_name:
        user.display_name = display_name[:128]
    if user.unreachable_at is not None:
        user.unreachable_at = None


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

    async def seen_many(
        self, senders: Sequence[tuple[str, str, str | None]]
    ) -> dict[tuple[str, str], User]:
        """Find or create the users of several (channel, external id, display name) and record
        that they were just seen (the display name is only kept once a user has consented): one
        query, plus one insert when some are new. Returns the users by (channel, external id)."""
        keys = list(dict.fromkeys((channel, external) for channel, external, _ in senders))
        found: dict[tuple[str, str], User] = {}
        for block in chunks(keys):
            result = await self.session.execute(
                select(User).where(tuple_(User.channel, User.external_id).in_(block))
            )
            found.update(((u.channel, u.external_id), u) for u in result.scalars())
        now = utcnow()
        new = []
        for key in keys:
            if key not in found:
                found[key] = User(channel=key[0], external_id=key[1], first_seen=now, last_seen=now)
                new.append(found[key])
        if new:
            self.session.add_all(new)
            await self.session.flush()
        for channel, external_id, display_name in senders:
            _touch(found[(channel, external_id)], display_name, now)
        return found

    async def mark_unreachable(self, user_id: int) -> None:
        """Record that messages to this user fail for good (they blocked the bot)."""
        user = await self.get(user_id)
        if user is not None and user.unreachable_at is None:
            user.unreachable_at = utcnow()
