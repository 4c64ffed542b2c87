"""Report files on disk (#19): the bytes in ``teams.file_dir``, the token in the database; served
by the same link, deleted with their row when they expire, a missing file a clear answer."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update

from bot.app import App
from bot.channels.files import file_routes
from bot.config import Config
from bot.core import files
from bot.core.housekeeping import clean_files
from bot.core.ports import FileMissing
from storage.models import SharedFile, utcnow

CSV = "Họ tên,Kỹ năng\nBác Ba,3\n".encode("utf-8-sig")


async def _share(app: App, data: bytes = CSV, name: str = "báo cáo.csv") -> str:
    async with app.db.transaction() as session:
        return await files.share(session, app.services.config, data, name, "text/csv")


async def test_a_file_on_disk_is_served_expires_and_goes(
    app: App, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    folder = files.folder(config)
    assert folder is not None
    ref = await _share(app)
    token, name = files.split_ref(ref)
    assert (folder / token).read_bytes() == CSV  # the bytes on disk...
    async with app.db.transaction() as session:
        row = await session.get(SharedFile, token)
        assert row is not None and row.data is None and row.path == token  # ...not in a blob
    missing = await _share(app, b"x", "mat.csv")
    (folder / files.split_ref(missing)[0]).unlink()
    stray = folder / "left-over"  # a file whose transaction rolled back, long ago
    stray.write_bytes(b"?")
    os.utime(stray, (time.time() - 7200, time.time() - 7200))
    fresh = folder / "being-written"
    fresh.write_bytes(b"?")

    server = web.Application()
    server.add_routes(file_routes(app.core))
    async with TestClient(TestServer(server)) as http:
        response = await http.get(f"/files/{token}/{name}")
        assert response.status == 200 and await response.read() == CSV
        assert "attachment" in response.headers["Content-Disposition"]
        response = await http.get(f"/files/{missing}")
        assert response.status == 410  # a clear sentence, not a server error
        assert "không còn trên máy chủ" in await response.text()
        with pytest.raises(FileMissing):
            await app.core.file(missing)
        logged = caplog.text
        assert "teams.file_dir" in logged  # the admin is told where to look...
        assert files.split_ref(missing)[0][:6] not in logged  # ...but no part of the link's secret

        async with app.db.transaction() as session:
            gone = SharedFile.token == token
            await session.execute(update(SharedFile).where(gone).values(expires_at=utcnow()))
        assert await clean_files(app.db, folder, batch=1) == 1
        assert not (folder / token).exists() and not stray.exists() and fresh.exists()
        response = await http.get(f"/files/{token}/{name}")
        assert response.status == 404 and "hết hạn" in await response.text()
    async with app.db.transaction() as session:
        tokens = set((await session.execute(select(SharedFile.token))).scalars())
    assert tokens == {files.split_ref(missing)[0]}  # not expired yet: kept


async def test_without_a_folder_files_stay_in_the_database(app: App, config: Config) -> None:
    app.services.config = replace(config, teams=replace(config.teams, file_dir=""))
    ref = await _share(app)
    shared = await app.core.file(ref)
    assert shared is not None and shared.data == CSV
    async with app.db.transaction() as session:
        row = await session.get(SharedFile, files.split_ref(ref)[0])
        assert row is not None and row.data == CSV and row.path is None
        await session.execute(update(SharedFile).values(expires_at=utcnow() - timedelta(1)))
    assert await clean_files(app.db, None, batch=10) == 1
    async with app.db.transaction() as session:
        assert (await session.execute(select(func.count()).select_from(SharedFile))).scalar() == 0


def test_the_default_folder_is_under_data(tmp_path: Path) -> None:
    from bot.config import load_config

    config = load_config(Path(__file__).parent.parent / "config.yaml", env={})
    assert files.folder(config) == config.base_dir / "data" / "files"
