"""Configuration: defaults, overrides from the environment, one clear line per bad key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_config_matches_the_defaults() -> None:
    config = load_config(ROOT / "config.yaml", env={})
    assert config.database.url == "sqlite+aiosqlite:///data/trolyso.db"
    assert (config.web.host, config.web.port) == ("127.0.0.1", 8080)
    assert config.content.dir == "content"
    assert config.telegram.base_url.startswith("https://")
    assert config.zalo.base_url.startswith("https://")


def test_secrets_and_database_url_come_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: sqlite:///x.db\n")
    env = {"DATABASE_URL": "postgresql+asyncpg://u@h/db", "TELEGRAM_BOT_TOKEN": "123:abc"}
    config = load_config(path, env=env)
    assert config.database.url == "postgresql+asyncpg://u@h/db"
    assert config.secrets.telegram_token == "123:abc"
    assert "123:abc" not in repr(config)


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "content:\n  dir: mycontent\n"), env={})
    assert config.path(config.content.dir) == tmp_path / "mycontent"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("web:\n  port: eighty\n", "web.port"),
        ("web:\n  port: 70000\n", "web.port"),
        ("web:\n  prot: 80\n", "web.prot"),
        ("nonsense: 1\n", "nonsense"),
        ("web: 5\n", "web"),
        ("content:\n  watch: maybe\n", "content.watch"),
        ("telegram:\n  base_url: ftp://x\n", "telegram.base_url"),
        ("logging:\n  level: LOUD\n", "logging.level"),
        ("secrets:\n  telegram_token: x\n", "secrets"),
        ("web: [\n", "not valid YAML"),
    ],
)
def test_invalid_config_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert key in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_file_named_on_the_command_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml", env={})


def test_cli_stops_with_one_line_on_bad_config(tmp_path: Path) -> None:
    path = write(tmp_path, "web:\n  port: eighty\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(path), "db", "upgrade"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "config: web.port must be a whole number, got 'eighty'"


def test_a_busy_port_is_one_line_naming_web_port(tmp_path: Path) -> None:
    """Issue 17 item 9: `trolyso run` on a port already taken says so in one line, no traceback."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = write(
            tmp_path,
            f"web:\n  port: {port}\ndatabase:\n  url: sqlite+aiosqlite:///{tmp_path / 'b.db'}\n"
            f"content:\n  dir: {ROOT / 'content'}\n  watch: false\n",
        )
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "--config", str(path), "run"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"config: web.port {port} ") and "choose another web.port" in last
