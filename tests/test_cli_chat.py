"""`trolyso chat` talks to the same core in a terminal, on an automatically upgraded SQLite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_console_chat_welcome_consent_and_menu(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  url: sqlite+aiosqlite:///{tmp_path / 'chat.db'}\n"
        f"content:\n  dir: {ROOT / 'content'}\n  watch: false\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "chat", "--user", "admin"],
        input="1\n4\n/nope\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Xin chào admin!" in out
    assert "1️⃣ Đồng ý" in out
    assert "Trả lời số 1, 2 hoặc 3" in out
    assert "Cảm ơn bạn!" in out
    assert "sẵn lòng giúp tận nơi" in out
    assert "Mình chưa biết lệnh này" in out
    assert not (tmp_path / "chat.db").exists()  # a throwaway database (issue 17 item 8)
    assert "dữ liệu tạm" in out


def test_console_chat_uses_the_real_database_only_when_told(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  url: sqlite+aiosqlite:///{tmp_path / 'chat.db'}\n"
        f"content:\n  dir: {ROOT / 'content'}\n  watch: false\n",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "bot.cli", "--config", str(config), "chat", "--live-db"]
    result = subprocess.run(
        command, input="1\n", capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Cảm ơn bạn!" in result.stdout
    assert (tmp_path / "chat.db").exists()
