"""Zalo turns survive a locked database (issue #18.3): the duplicate check is retried like a
turn, and when the database stays unwritable the citizen gets the apology, not silence."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event

from bot.app import App, build_app
from bot.config import Config, DatabaseConfig
from storage.db import Database
from tests.fake_zalo import Citizen, FakeZalo, quick, zalo, zalo_config
from tests.waiting import eventually

APOLOGY = "Xin lỗi, mình đang gặp trục trặc"


@contextmanager
def locked(path: str) -> Iterator[None]:
    """Another process holds SQLite's write lock."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    server = await FakeZalo(max_wait=0.2).start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(config: Config, db: Database, fake: FakeZalo) -> AsyncIterator[App]:
    """The bot on a database whose lock waits are short (50 ms instead of 5 s)."""
    quick_db = Database(config.database.url)

    def short_wait(connection: Any, _record: Any) -> None:
        connection.cursor().execute("PRAGMA busy_timeout=50")

    event.listen(quick_db.engine.sync_engine, "connect", short_wait)
    cfg = replace(zalo_config(config, fake), database=DatabaseConfig(url=config.database.url))
    app = build_app(cfg, db=quick_db)
    quick(zalo(app))
    await app.start()
    await eventually(lambda: fake.of("getUpdates"))
    yield app
    await app.stop()


def _path(config: Config) -> str:
    return config.database.url.split("///", 1)[1]


async def test_a_short_lock_is_waited_out(bot: App, fake: FakeZalo, config: Config) -> None:
    citizen = Citizen(bot, fake, chat_id="brief")
    with locked(_path(config)):
        answer = asyncio.create_task(citizen.say("xin chào"))
        await asyncio.sleep(0.2)
    assert "Trợ lý số" in await answer


async def test_a_long_lock_gets_the_apology(bot: App, fake: FakeZalo, config: Config) -> None:
    citizen = Citizen(bot, fake, chat_id="outage")
    with locked(_path(config)):
        answer = await citizen.say("xin chào")
    assert APOLOGY in answer
    # Afterwards the same citizen is answered normally.
    assert "Trợ lý số" in await citizen.say("xin chào")
