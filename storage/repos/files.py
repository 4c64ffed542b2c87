"""Generated files (reports, posters) downloadable by an unguessable token until they expire."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SharedFile, utcnow


class FileRepo:
    """Generated files downloadable by token until they expire."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(
        self,
        data: bytes,
        name: str,
        content_type: str,
        ttl: timedelta,
        *,
        user_id: int | None = None,
        team_id: int | None = None,
        now: datetime | None = None,
    ) -> SharedFile:
        """Store a file under a fresh unguessable token; expired files are dropped on the way."""
        now = now or utcnow()
        await self.session.execute(delete(SharedFile).where(SharedFile.expires_at <= now))
        shared = SharedFile(
            token=secrets.token_urlsafe(24),
            name=name[:128],
            content_type=content_type[:64],
            data=data,
            user_id=user_id,
            team_id=team_id,
            created_at=now,
            expires_at=now + ttl,
        )
        self.session.add(shared)
        await self.session.flush()
        return shared

    async def get(self, token: str, now: datetime | None = None) -> SharedFile | None:
        """The file with this token, unless expired."""
        if not token or len(token) > 48:
            return None
        shared = await self.session.get(SharedFile, token)
        if shared is None or shared.expires_at <= (now or utcnow()):
            return None
        return shared

    async def forget_team(self, team_id: int | None) -> None:
        """Drop a team's files (reports naming someone who just deleted their data)."""
        query = delete(SharedFile)
        if team_id is not None:  # reports of this team, and admin reports over every team
            query = query.where(or_(SharedFile.team_id == team_id, SharedFile.team_id.is_(None)))
        await self.session.execute(query)
