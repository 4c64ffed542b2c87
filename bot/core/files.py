"""Files for users (report CSVs, progress charts): stored in the database, served by token.

A handler stores a file with ``share`` and sends ``Reply(text, document=ref)``; ``ref`` is
``"<token>/<name>"``. Each channel shows it its own way: Telegram uploads the file, the web chat
shows a download link, text-only channels (Zalo) get the link in the text
(``bot.channels.base.links_in_text``).
Links are ``<web.public_url or http://host:port>/files/<token>/<name>``: the token is random
(192 bits) and the file expires after ``teams.file_hours``. Any bot process sharing the database
can serve it (``bot/channels/files.py``).
"""

from __future__ import annotations

import re
from datetime import timedelta
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
    shared = await FileRepo(session).put(
        data,
        name,
        content_type,
        timedelta(hours=config.teams.file_hours),
        user_id=user_id,
        team_id=team_id,
    )
    return f"{shared.token}/{name}"


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


async def fetch(db: Database, ref: str) -> SharedFile | None:
    """The stored file of a reference, unless it expired."""
    token, _ = split_ref(ref)
    async with db.transaction() as session:
        return await FileRepo(session).get(token)
