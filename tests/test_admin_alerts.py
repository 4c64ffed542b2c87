"""A refused reload (e.g. by the file watcher) reaches admins in the chat; citizens hear nothing."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.channels.memory import MemoryChannel
from bot.config import Config
from storage.db import Database
from storage.repos.users import UserRepo
from tests.conftest import CONTENT, consent, with_content
from tests.replies import texts


@pytest.fixture
async def app_copy(config: Config, db: Database, tmp_path: Path) -> AsyncIterator[App]:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    application = build_app(with_content(config, content), db=db)
    yield application
    await application.stop()


async def test_refused_reload_is_pushed_to_admins_only(app_copy: App) -> None:
    chat = MemoryChannel(app_copy.core, name="memory")
    app_copy.channels[chat.name] = chat
    await consent(chat, "boss")
    await consent(chat, "citizen")
    async with app_copy.db.transaction() as s:
        boss = await UserRepo(s).find("memory", "boss")
        assert boss is not None
        boss.role = "admin"
    before = app_copy.store.current
    core = app_copy.store.root / "messages" / "core.yaml"
    core.write_text(core.read_text(encoding="utf-8") + "\nbroken: [\n", encoding="utf-8")
    problems = await app_copy.store.reload()
    assert problems and app_copy.store.current is before
    alert = texts(chat.sent["boss"])
    assert "1 lỗi" in alert and "content/messages/core.yaml" in alert
    assert "citizen" not in chat.sent
    chat.sent.clear()
    core.write_text(core.read_text(encoding="utf-8").replace("\nbroken: [\n", ""), encoding="utf-8")
    assert await app_copy.store.reload() == []
    assert chat.sent == {}
