"""Server keys: read the shared one, or create it once for every process."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ServerKey


class ServerKeyRepo:
    """Named secrets kept in the database, so several processes agree on them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_or_create(self, name: str) -> str:
        """The key called ``name``; a new random one when none exists (the first writer wins)."""
        found = await self.session.get(ServerKey, name)
        if found is not None:
            return found.value
        try:
            async with self.session.begin_nested():
                self.session.add(ServerKey(name=name, value=secrets.token_urlsafe(48)))
                await self.session.flush()
        except IntegrityError:  # another process created it first
            pass
        value = await self.session.scalar(select(ServerKey.value).where(ServerKey.name == name))
        assert value is not None
        return value
