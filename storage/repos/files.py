"""Generated files (reports, posters) downloadable by an unguessable token until they expire.

The bytes go to a folder (``teams.file_dir``, default ``data/files``) as one file named by the
token, written to a temporary name and renamed so a reader never sees half a file; the database
keeps the token, name, type, owner and expiry (``shared_files``, ``path`` = the file's name in
the folder). With no folder configured (``file_dir: ""``), and for rows made before migration
0020, the bytes are in ``shared_files.data``. Expired rows and their files go in batches
(``purge``, run by housekeeping), as do files left without a row (a transaction that rolled
back, a crash between the two deletes).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SharedFile, utcnow
from storage.repos.lists import chunks

TEMPORARY = ".tmp-"
ORPHAN_AGE = timedelta(hours=1)  # a file this old without a row is left over, never in flight


class FileRepo:
    """Generated files downloadable by token until they expire."""

    def __init__(self, session: AsyncSession, folder: Path | None = None) -> None:
        self.session = session
        self.folder = folder

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
        """Store a file under a fresh unguessable token (in the folder when there is one)."""
        now = now or utcnow()
        token = secrets.token_urlsafe(24)  # [A-Za-z0-9_-]: a safe file name too
        path: str | None = None
        if self.folder is not None:
            await asyncio.to_thread(_write, self.folder, token, data)
            path = token
        shared = SharedFile(
            token=token,
            name=name[:128],
            content_type=content_type[:64],
            data=None if path else data,
            path=path,
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

    async def read(self, shared: SharedFile) -> bytes:
        """A file's bytes; ``FileNotFoundError`` when its file is gone from the folder (or the
        folder is not the one it was written to)."""
        if shared.path is None:
            return shared.data or b""
        if self.folder is None:
            raise FileNotFoundError("no file folder configured (teams.file_dir)")
        return await asyncio.to_thread((self.folder / shared.path).read_bytes)

    async def purge(self, now: datetime, limit: int) -> int:
        """Delete up to ``limit`` expired files (rows, then their files); returns how many."""
        chosen = (
            select(SharedFile.token)
            .where(SharedFile.expires_at <= now)
            .order_by(SharedFile.expires_at)
            .limit(limit)
            .scalar_subquery()
        )
        result = await self.session.execute(
            delete(SharedFile).where(SharedFile.token.in_(chosen)).returning(SharedFile.path)
        )
        paths = [p for (p,) in result.all()]
        await self.unlink([p for p in paths if p])
        return len(paths)

    async def forget_team(self, team_id: int | None) -> None:
        """Drop a team's files (reports naming someone who just deleted their data)."""
        query = delete(SharedFile)
        if team_id is not None:  # reports of this team, and admin reports over every team
            query = query.where(or_(SharedFile.team_id == team_id, SharedFile.team_id.is_(None)))
        result = await self.session.execute(query.returning(SharedFile.path))
        await self.unlink([p for (p,) in result.all() if p])

    async def unlink(self, paths: Sequence[str]) -> None:
        """Remove these files from the folder (already gone is fine)."""
        if self.folder is not None and paths:
            await asyncio.to_thread(_unlink, self.folder, list(paths))

    async def sweep(self, now: datetime) -> int:
        """Remove files of the folder that no row names (older than ``ORPHAN_AGE``, so none
        is being written); returns how many went."""
        if self.folder is None:
            return 0
        old = await asyncio.to_thread(_older_than, self.folder, (now - ORPHAN_AGE).timestamp())
        gone = [p for p in old if p.startswith(TEMPORARY)]
        names = [p for p in old if not p.startswith(TEMPORARY)]
        for part in chunks(names):
            query = select(SharedFile.path).where(SharedFile.path.in_(part))
            known = set((await self.session.execute(query)).scalars())
            gone += [p for p in part if p not in known]
        await self.unlink(gone)
        return len(gone)


def _write(folder: Path, token: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f"{TEMPORARY}{token}"
    temporary.write_bytes(data)
    os.replace(temporary, folder / token)


def _unlink(folder: Path, paths: list[str]) -> None:
    for path in paths:
        (folder / path).unlink(missing_ok=True)


def _older_than(folder: Path, stamp: float) -> list[str]:
    if not folder.is_dir():
        return []
    out: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                if entry.is_file() and entry.stat().st_mtime < stamp:
                    out.append(entry.name)
            except FileNotFoundError:  # removed meanwhile by another process
                continue
    return out
