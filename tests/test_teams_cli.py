"""``trolyso team …`` and ``trolyso report`` as real subprocesses; the QR poster decoded with a
QR reader (zxing-cpp); the poster's font really draws Vietnamese letters."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageFont

from bot.cli import parser
from bot.config import Config, load_config
from bot.reports.fonts import find_font
from tests.conftest import CONTENT, ROOT
from tests.fake_telegram import BOT_USERNAME, TOKEN, FakeTelegram


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"database:\n  url: sqlite+aiosqlite:///{tmp_path / 'cli.db'}\n"
        f"content:\n  dir: {CONTENT}\n  watch: false\n{extra}",
        encoding="utf-8",
    )
    return path


def trolyso(
    config: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(config.parent), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=base,
        timeout=60,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def decode(path: Path) -> list[str]:
    with Image.open(path) as image:
        return [result.text for result in zxingcpp.read_barcodes(image)]


def test_team_lifecycle_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)

    def cli(*args: str, status: int = 0) -> str:
        # the command's own function, in this process (main() would reconfigure logging)
        parsed = parser().parse_args(["--config", str(config), *args])
        assert parsed.handler(load_config(config), parsed) == status
        captured = capsys.readouterr()
        return captured.out + captured.err

    out = cli(
        "team",
        "add",
        "Tổ CNS thôn Đông",
        "--commune",
        "Xã Tân Hòa",
        "--village",
        "Thôn Đông",
        "--code",
        "dong01",
    )
    assert "Mã tham gia: DONG01" in out
    taken = cli(
        "team", "add", "X", "--commune", "Y", "--village", "Z", "--code", "DONG01", status=1
    )
    assert "already used" in taken
    assert "DONG01  Tổ CNS thôn Đông (Thôn Đông, Xã Tân Hòa)" in cli("team", "list")
    code = cli("team", "add-member", "DONG01", "--lead").split("Mã mời tổ trưởng: ")[1].split()[0]
    assert len(code) == 10
    assert f"mã mời tổ trưởng chưa dùng: {code}" in cli("team", "show", "DONG01")
    assert f"Đã hủy mã {code}" in cli("team", "remove-member", "DONG01", code)
    assert "chưa dùng" not in cli("team", "show", "DONG01")
    assert "Mã mời quản trị viên: " in cli("team", "add-admin")
    assert "không có tổ nào mã NOPE99" in cli("team", "show", "NOPE99", status=1)
    report = cli("report", "--team", "DONG01", "--csv", str(tmp_path / "r.csv"))
    assert "Tóm tắt: Tổ CNS thôn Đông" in report and "Người dân: 0" in report
    assert (tmp_path / "r.csv").read_bytes().startswith("\ufeffTên,Kênh".encode())


def test_qr_poster_holds_the_code_without_a_bot_name(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    trolyso(
        config,
        "team",
        "add",
        "Tổ CNS thôn Tây",
        "--commune",
        "Xã Tân Hòa",
        "--village",
        "Thôn Tây",
        "--code",
        "TAY123",
    )
    poster = tmp_path / "poster.png"
    out = trolyso(config, "team", "qr", "tay123", "--out", str(poster)).stdout
    assert "mã QR: TAY123" in out
    assert decode(poster) == ["TAY123"]
    with Image.open(poster) as image:
        assert image.size == (1240, 1748)


def test_qr_poster_holds_the_telegram_deep_link(tmp_path: Path) -> None:
    config = write_config(tmp_path, "teams:\n  telegram_bot: '@trolyso_xa_bot'\n")
    trolyso(
        config,
        "team",
        "add",
        "Tổ CNS thôn Tây",
        "--commune",
        "Xã Tân Hòa",
        "--village",
        "Thôn Tây",
        "--code",
        "TAY123",
    )
    poster = tmp_path / "poster.png"
    trolyso(config, "team", "qr", "TAY123", "--out", str(poster))
    assert decode(poster) == ["https://t.me/trolyso_xa_bot?start=TAY123"]


async def test_qr_poster_asks_telegram_for_the_bot_name(tmp_path: Path) -> None:
    fake = FakeTelegram()
    await fake.start()
    try:
        config = write_config(tmp_path, f"telegram:\n  base_url: {fake.base_url}\n")
        env = {"TELEGRAM_BOT_TOKEN": TOKEN}
        await asyncio.to_thread(
            trolyso,
            config,
            "team",
            "add",
            "Tổ",
            "--commune",
            "Xã",
            "--village",
            "Thôn",
            "--code",
            "ABCD22",
            env=env,
        )
        poster = tmp_path / "poster.png"
        await asyncio.to_thread(
            trolyso, config, "team", "qr", "ABCD22", "--out", str(poster), env=env
        )
    finally:
        await fake.stop()
    assert decode(poster) == [f"https://t.me/{BOT_USERNAME}?start=ABCD22"]


def _notdef(font: ImageFont.FreeTypeFont) -> bytes:
    return bytes(font.getmask("\uffff"))


def test_the_poster_font_draws_vietnamese(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    try:
        font = ImageFont.truetype(str(find_font(config)), 40)
        bold = ImageFont.truetype(str(find_font(config, bold=True)), 40)
    except FileNotFoundError as exc:  # pragma: no cover - only without any system font
        pytest.skip(str(exc))
    text = "Tổ công nghệ số cộng đồng thôn Đông, xã Tân Hòa: quét mã để vào tổ ỹ ữ ặ ơ ư đ Đ"
    for face in (font, bold):
        tofu = _notdef(face)
        missing = {ch for ch in set(text) if not ch.isspace() and bytes(face.getmask(ch)) == tofu}
        assert missing == set()


def test_a_missing_configured_font_is_a_clear_error(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "teams:\n  font: fonts/nope.ttf\n"))
    assert isinstance(config, Config)
    with pytest.raises(FileNotFoundError, match=r"teams\.font"):
        find_font(config)
