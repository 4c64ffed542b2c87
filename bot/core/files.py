"""Files for users (report CSVs, progress charts): kept in ``teams.file_dir``, served by token.

A handler stores a file with ``share`` and sends ``Reply(text, document=ref)``; ``ref`` is
``"<token>/<name>"``. Each channel shows it its own way: Telegram uploads the file, the web chat
shows a download link, text-only channels (Zalo) get the link in the text
(``bot.channels.base.links_in_text``).
Links are ``<web.public_url or http://host:port>/files/<token>/<name>``: the token is random
(192 bits) and the file expires after ``teams.file_hours``. The bytes are a file in
``teams.file_dir`` (``data/files``; the database keeps the token, name and expiry), or in the
database when ``file_dir`` is empty. Any bot process sharing the database and that folder can
serve it (``bot/channels/files.py``); housekeeping deletes expired files and their rows.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from bot.core.text import strip_marks
from storage.models import SharedFile
from storage.repos.files import FileRepo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.config import Config
    from storage.db import Database

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file name fit for a URL: ASCII letters, digits, dot, dash, underscore."""
    cleaned = _UNSAFE.sub("-", strip_marks(name)).strip("-.")
    return cleaned[:100] or "tep"


async def share(
    session: AsyncSession,
    config: Config,
    data: bytes,
    name: str,
    content_type: str,
    *,
    user_id: int | None = None,
    team_id: int | None = None,
) -> str:
    """Store a file for download; returns the reference to put in ``Reply.document``."""
    name = safe_name(name)
    shared = await FileRepo(session, folder(config)).put(
        data,
        name,
        content_type,
        timedelta(hours=config.teams.file_hours),
        user_id=user_id,
        team_id=team_id,
    )
    return f"{shared.token}/{name}"


def folder(config: Config) -> Path | None:
    """Where report files are kept (``teams.file_dir``); None: in the database."""
    value = config.teams.file_dir.strip()
    return config.path(value) if value else None


def split_ref(ref: str) -> tuple[str, str]:
    """The token and the file name of a reference."""
    token, _, name = ref.partition("/")
    return token, name


def base_url(config: Config) -> str:
    """Where this server is reached from outside: ``web.public_url``, else http://host:port."""
    if config.web.public_url:
        return config.web.public_url.rstrip("/")
    return f"http://{config.web.host}:{config.web.port}"


def file_url(config: Config, ref: str, *, relative: bool = False) -> str:
    """The download link of a reference (relative to this server when ``relative`` and no
    public URL is configured: the web chat page resolves it against its own address)."""
    token, name = split_ref(ref)
    path = f"/files/{quote(token)}/{quote(name)}"
    if relative and not config.web.public_url:
        return path
    return base_url(config) + path


async def fetch(db: Database, config: Config, ref: str) -> tuple[SharedFile, bytes] | None:
    """The stored file of a reference and its bytes, unless it expired; ``FileNotFoundError``
    when its row is valid but its file is gone (a folder not shared between processes)."""
    token, _ = split_ref(ref)
    async with db.transaction() as session:
        repo = FileRepo(session, folder(config))
        shared = await repo.get(token)
        if shared is None:
            return None
        return shared, await repo.read(shared)
