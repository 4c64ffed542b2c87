"""Shared fixtures: real SQLite (and real PostgreSQL when TEST_DATABASE_URL is set), the real
content, and in-memory channels talking to the real dispatcher."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.app import App, build_app
from bot.channels.memory import RICH, TEXT_ONLY, MemoryChannel
from bot.config import Config, ContentConfig, DatabaseConfig, TeamsConfig, WebConfig
from storage.db import Database, normalise_url

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
PG_SKIP = "PostgreSQL tests need TEST_DATABASE_URL (see .ci/run)"


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    parsed = normalise_url(url)
    conn = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database or "postgres",
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards)."""
    if not PG_URL:
        pytest.skip(PG_SKIP)
    name = f"trolyso_test_{os.getpid()}_{secrets.token_hex(3)}"
    _run(_admin(PG_URL, f'CREATE DATABASE "{name}"'))
    url = normalise_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    _run(_admin(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file in the test's temporary folder."""
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A real SQLite database with every table."""
    database = Database(sqlite_url(tmp_path))
    await database.create_all()
    yield database
    await database.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The same test on SQLite and on PostgreSQL (skipped without TEST_DATABASE_URL)."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        database = Database(url)
        await database.drop_all()
    else:
        database = Database(sqlite_url(tmp_path))
    await database.create_all()
    yield database
    await database.dispose()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Configuration for tests: temporary SQLite, the bundled content, no file watching, report
    files in the test's temporary folder."""
    return Config(
        database=DatabaseConfig(url=sqlite_url(tmp_path)),
        web=WebConfig(host="127.0.0.1", port=0),
        content=ContentConfig(dir=str(CONTENT), watch=False),
        teams=TeamsConfig(file_dir=str(tmp_path / "files")),
        base_dir=ROOT,
    )


@pytest.fixture
async def app(config: Config, db: Database) -> AsyncIterator[App]:
    """The whole bot wired as in production, without starting servers."""
    application = build_app(config, db=db)
    yield application
    await application.stop()


@pytest.fixture
async def any_bot(config: Config, any_db: Database) -> AsyncIterator[tuple[App, MemoryChannel]]:
    """The bot on SQLite and on PostgreSQL, with a channel that has buttons."""
    application = build_app(config, db=any_db)
    channel = MemoryChannel(application.core, name="memory", capabilities=RICH)
    application.channels[channel.name] = channel
    yield application, channel
    await application.stop()


@pytest.fixture
def chat(app: App) -> MemoryChannel:
    """A channel with buttons (like Telegram and the web chat)."""
    channel = MemoryChannel(app.core, name="memory", capabilities=RICH)
    app.channels[channel.name] = channel
    return channel


@pytest.fixture
def text_chat(app: App) -> MemoryChannel:
    """A text-only channel (like Zalo): buttons arrive as numbered lines."""
    channel = MemoryChannel(app.core, name="textonly", capabilities=TEXT_ONLY)
    app.channels[channel.name] = channel
    return channel


async def consent(channel: MemoryChannel, user: str, name: str = "Bác Ba") -> None:
    """Bring a user past the welcome and consent."""
    await channel.say(user, "/start", display_name=name)
    await channel.press(user, "Đồng ý")


async def shared_bytes(app: App, ref: str) -> bytes:
    """The bytes of a report file a reply carries (``Reply.document``), as channels get them."""
    shared = await app.core.file(ref)
    assert shared is not None, f"no file behind {ref}"
    return shared.data


def with_content(config: Config, content_dir: Path) -> Config:
    """The config with another content directory."""
    return replace(config, content=replace(config.content, dir=str(content_dir)))
