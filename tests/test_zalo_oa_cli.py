"""``trolyso zalo-oa add|list|remove|connect`` as an admin runs them, against the fake OA
server (run in a thread of its own, since the commands run their own event loop)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from bot.cli import parser
from bot.config import load_config
from tests.fake_zalo_oa import APP_ID, APP_SECRET, OA_ID, SECRET_KEY, TOKEN_KEY, FakeOA
from tests.test_teams_cli import write_config


@pytest.fixture
def fake() -> Iterator[FakeOA]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(FakeOA().start(), loop).result(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_add_list_connect_remove(
    tmp_path: Path,
    fake: FakeOA,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in (
        ("ZALO_OA_APP_ID", APP_ID),
        ("ZALO_OA_APP_SECRET", APP_SECRET),
        ("ZALO_OA_SECRET_KEY", SECRET_KEY),
        ("ZALO_OA_TOKEN_KEY", TOKEN_KEY),
    ):
        monkeypatch.setenv(name, value)
    config = write_config(
        tmp_path,
        f"web:\n  public_url: https://bot.example.vn\n"
        f"zalo_oa:\n  openapi_url: {fake.base_url}\n  oauth_url: {fake.base_url}\n",
    )

    def cli(*args: str, status: int = 0) -> str:
        parsed = parser().parse_args(["--config", str(config), *args])
        assert parsed.handler(load_config(config), parsed) == status
        captured = capsys.readouterr()
        return captured.out + captured.err

    cli(
        "team",
        "add",
        "Tổ CNS thôn Đông",
        "--commune",
        "Xã Đông Hòa",
        "--village",
        "Thôn Đông",
        "--code",
        "DONG01",
    )
    bad = cli("zalo-oa", "add", OA_ID, "--refresh-token", "used-or-wrong", status=1)
    assert "Zalo không nhận refresh token này" in bad
    assert "Chưa có Zalo OA nào" in cli("zalo-oa", "list")

    token = fake.new_oa(name="UBND xã Đông Hòa")
    out = cli("zalo-oa", "add", OA_ID, "--refresh-token", token, "--team", "DONG01")
    assert "Đã lưu Zalo OA UBND xã Đông Hòa" in out and "DONG01" in out
    assert token not in out and fake.refresh_calls == ["used-or-wrong", token]
    again = cli("zalo-oa", "add", OA_ID, "--refresh-token", token, status=1)
    assert "chỉ dùng được một lần" in again  # the token rotated: the old one is used up

    listing = cli("zalo-oa", "list")
    assert f"{OA_ID} | UBND xã Đông Hòa |" in listing and "| DONG01 |" in listing
    assert "SECRET" not in listing

    out = cli("zalo-oa", "connect", "--team", "DONG01")
    link = next(line for line in out.splitlines() if line.startswith("http"))
    query = parse_qs(urlparse(link).query)
    assert query["app_id"] == [APP_ID]
    assert query["redirect_uri"] == ["https://bot.example.vn/zalo-oa/oauth"]
    assert "code_challenge" in query and "state" in query
    assert "không có tổ nào mã NOPE" in cli("zalo-oa", "connect", "--team", "NOPE", status=1)

    assert "Đã xóa Zalo OA" in cli("zalo-oa", "remove", OA_ID)
    assert "không có OA" in cli("zalo-oa", "remove", OA_ID, status=1)


def test_commands_name_the_missing_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ZALO_OA_APP_ID", "ZALO_OA_APP_SECRET", "ZALO_OA_TOKEN_KEY"):
        monkeypatch.delenv(name, raising=False)
    config = write_config(tmp_path)
    parsed = parser().parse_args(["--config", str(config), "zalo-oa", "connect"])
    assert parsed.handler(load_config(config), parsed) == 1
    err = capsys.readouterr().err
    assert "ZALO_OA_APP_ID" in err and "ZALO_OA_TOKEN_KEY" in err
