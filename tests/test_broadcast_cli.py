"""``trolyso broadcast``: create (dry run, scheduled, only those missing), list, status, cancel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from storage.db import Database
from tests import conftest
from tests.broadcast_helpers import tally, village


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"database:\n  url: sqlite+aiosqlite:///{tmp_path / 'bot.db'}\n"
        f"content:\n  dir: {conftest.CONTENT}\n  watch: false\n",
        encoding="utf-8",
    )
    return path


def test_broadcast_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(_config(tmp_path))
    assert main(["--config", config, "db", "upgrade"]) == 0
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"

    async def populate() -> None:
        db = Database(url)
        await village(db, 5, channel="telegram")
        await db.dispose()

    asyncio.run(populate())
    capsys.readouterr()
    base = ["--config", config, "broadcast"]
    lesson = ["--team", "dong01", "--lesson", "sk_spot_phishing"]

    assert main([*base, "create", *lesson, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Số người nhận: 5" in out and "Chạy thử" in out
    assert "dừng nhận tin" in out
    assert main([*base, "list"]) == 0
    assert "Chưa có tin nào" in capsys.readouterr().out

    assert main([*base, "create", *lesson, "--only-missing", "--at", "2030-12-25 08:00"]) == 0
    out = capsys.readouterr().out
    assert "Đã tạo tin số 1" in out and "08:00 25/12/2030" in out
    assert main([*base, "list"]) == 0
    out = capsys.readouterr().out
    assert "DONG01" in out and "pending=5" in out
    assert main([*base, "status", "1"]) == 0
    assert "pending: 5" in capsys.readouterr().out

    assert main([*base, "cancel", "1"]) == 0
    assert "Đã hủy tin số" in capsys.readouterr().out
    assert main([*base, "cancel", "1"]) == 1
    assert main([*base, "status", "1"]) == 0
    assert "skipped: 5 (cancelled=5)" in capsys.readouterr().out

    async def check() -> dict[str, int]:
        db = Database(url)
        try:
            return await tally(db, 1)
        finally:
            await db.dispose()

    assert asyncio.run(check()) == {"skipped": 5, "skipped:cancelled": 5}

    assert main([*base, "create", "--team", "NOPE99", "--lesson", "sk_spot_phishing"]) == 2
    assert main([*base, "create", "--team", "DONG01", "--lesson", "no_such_skill"]) == 2
    assert main([*base, "create", "--all", "--text", "x" * 501]) == 2
    assert main([*base, "create", "--all", "--text", "Họp thôn tối thứ Bảy", "--at", "soon"]) == 2
    capsys.readouterr()
    assert main([*base, "create", "--all", "--text", "Họp thôn tối thứ Bảy."]) == 0
    out = capsys.readouterr().out
    assert "mọi người dân" in out and "Đã tạo tin số 2" in out
    assert main([*base, "status", "99"]) == 1
