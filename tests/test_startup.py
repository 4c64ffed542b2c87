"""Start-up with the content loaded off the event loop: /healthz and a "starting" reply first."""

from __future__ import annotations

import gc
import shutil
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import bot.content.store as store_module
from bot.app import App, build_app
from bot.channels.memory import MemoryChannel
from bot.config import Config
from bot.content.problems import ContentError
from bot.content.snapshot import Snapshot
from bot.content.store import ContentStore
from storage.db import Database
from tests.conftest import CONTENT, with_content

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Holds the content loader (in its thread) until the test sets it."""
    opened = threading.Event()
    real = store_module.load_paused

    def held(root: Path, *, freeze: bool = True) -> Snapshot:
        assert opened.wait(30), "the test never let the content load"
        return real(root, freeze=freeze)

    monkeypatch.setattr(store_module, "load_paused", held)
    return opened


@pytest.fixture
async def deferred(config: Config, db: Database) -> AsyncIterator[App]:
    """The app as ``trolyso run`` builds it: content loaded after start."""
    application = build_app(config, db=db, deferred=True)
    yield application
    await application.stop()


async def test_healthz_and_turns_answer_while_the_content_loads(
    deferred: App, gate: threading.Event
) -> None:
    app = deferred
    chat = MemoryChannel(app.core)
    app.channels[chat.name] = chat
    async with TestClient(TestServer(app.web_app(), host="127.0.0.1")) as client:
        await app.start(serve_http=False)
        response = await client.get("/healthz")
        assert response.status == 503
        assert await response.json() == {"ok": False, "status": "starting"}
        replies = await chat.say("u1", "xin chào")
        starting = app.store.current.messages("fallback.starting")
        assert [r.text for r in replies] == [starting]
        assert "khởi động" in starting
        assert not app.tasks  # no worker runs on half-loaded content

        gate.set()
        assert app.loading is not None
        await app.loading
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"ok": True, "status": "ready"}
        replies = await chat.say("u1", "xin chào")
        assert "Trợ lý số" in replies[0].text  # the real welcome
        assert app.store.current.knowledge  # the knowledge base is there
        assert app.tasks  # housekeeping and the broadcast worker started


async def test_a_content_error_found_while_loading_stops_start_up(
    config: Config, db: Database, tmp_path: Path
) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "knowledge" / "broken.yaml").write_text(
        "entries:\n  - id: Broken Id\n    group: nowhere\n", encoding="utf-8"
    )
    app = build_app(with_content(config, content), db=db, deferred=True)
    try:
        await app.start(serve_http=False)
        assert app.loading is not None
        with pytest.raises(ContentError):
            await app.loading
        assert not app.store.ready
    finally:
        await app.stop()


def test_the_loader_pauses_the_collector_and_freezes_what_it_built(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    seen: list[bool] = []
    real: Callable[[Path], Snapshot] = getattr(store_module, "load_snapshot")  # noqa: B009

    def spy(root: Path) -> Snapshot:
        seen.append(gc.isenabled())
        return real(root)

    before = gc.get_freeze_count()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store_module, "load_snapshot", spy)
        snapshot = store_module.load_paused(content)
    try:
        assert seen == [False]  # paused during the build
        assert gc.isenabled()  # and back on after it
        assert gc.get_freeze_count() > before
        assert snapshot.knowledge
    finally:
        gc.unfreeze()


async def test_a_reload_freezes_nothing(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    store = ContentStore(content)
    before = gc.get_freeze_count()
    assert await store.reload() == []
    assert gc.isenabled()
    assert gc.get_freeze_count() == before  # the replaced snapshot stays collectable
