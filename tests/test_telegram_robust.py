"""Telegram against odd input and a flaky Bot API (issue #18 items 7-10)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.app import App, build_app
from bot.channels.base import Backoff
from bot.channels.telegram import SECRET_HEADER, TelegramChannel
from bot.config import Config, Secrets, TelegramConfig
from bot.redaction import protect_token, redact
from storage.db import Database
from tests.fake_telegram import FakeTelegram


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def polling(app: App, fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(
        app.core, fake.token, base_url=fake.base_url, backoff=(0.01, 0.02), poll_timeout=0.5
    )
    app.channels[channel.name] = channel
    await channel.start()
    await asyncio.wait_for(channel.ready.wait(), 10)
    yield channel
    await channel.stop()


async def test_malformed_updates_are_skipped_and_polling_goes_on(
    polling: TelegramChannel, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    bad_entities = fake.text_update(81, "/start")
    bad_entities["message"]["entities"] = "notalist"
    bad_date = fake.text_update(81, "xin chào")
    bad_date["message"]["date"] = "yesterday"
    fake.push(bad_entities, bad_date, {"message": [1, 2, 3]})
    fake.push(fake.text_update(81, "/start"))
    await fake.wait_for(lambda: "Trợ lý số" in fake.texts_to(81))
    skipped = [r for r in caplog.records if "could not be read; skipped" in r.getMessage()]
    assert len(skipped) == 3
    assert all(r.levelno == logging.WARNING and not r.exc_info for r in skipped)
    fake.push(fake.text_update(82, "/start"))
    await fake.wait_for(lambda: "Trợ lý số" in fake.texts_to(82))


async def test_a_transient_401_names_the_token_and_polling_retries(
    polling: TelegramChannel, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("getUpdates", 401, "Unauthorized", times=2)
    await fake.wait_for(lambda: not fake.failures, within=10)
    fake.push(fake.text_update(83, "/start"))
    await fake.wait_for(lambda: "Trợ lý số" in fake.texts_to(83), within=15)
    lines = [r for r in caplog.records if "TELEGRAM_BOT_TOKEN" in r.getMessage()]
    assert len(lines) == 1 and "401" in lines[0].getMessage()


@pytest.fixture
async def webhook_app(config: Config, db: Database, fake: FakeTelegram) -> AsyncIterator[App]:
    cfg = replace(
        config,
        telegram=TelegramConfig(base_url=fake.base_url, webhook_url="https://bot.example.org"),
        secrets=Secrets(telegram_token=fake.token, telegram_webhook_secret="s3cret_Hook-1"),
    )
    application = build_app(cfg, db=db)
    channel = application.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    channel.retry = Backoff((0.01,))
    await application.start()
    await asyncio.wait_for(channel.ready.wait(), 10)
    yield application
    await application.stop()


async def _raw_post(app: App, path: str, header: bytes, body: bytes) -> int:
    """POST with a header value that is not UTF-8 (clients cannot send it any other way)."""
    assert app.runner is not None
    port = app.runner.addresses[0][1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST "
        + path.encode()
        + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + SECRET_HEADER.encode()
        + b": "
        + header
        + b"\r\n"
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


@pytest.mark.parametrize("header", [b"\xff\xfe\xfd", b"s3cret_Hook-\xe9", b"\xc3\x28"])
async def test_a_non_utf8_secret_header_is_403(
    webhook_app: App, fake: FakeTelegram, header: bytes
) -> None:
    channel = webhook_app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    status = await _raw_post(webhook_app, channel.webhook_path, header, b"{}")
    assert status == 403


def test_both_halves_of_the_token_are_redacted() -> None:
    token = "5550001234:AAHalfSecret-onlyInThisTest_xyz"
    protect_token(token)
    bot_id, secret = token.split(":")
    text = f"echo {secret} and id {bot_id} and whole {token} and path /bot{token}/getMe"
    cleaned = redact(text)
    assert secret not in cleaned and bot_id not in cleaned
    assert cleaned.count("[REDACTED]") == 4


@pytest.mark.parametrize("sql", [False, True])
def test_database_loggers_are_quiet_at_debug_unless_asked(sql: bool) -> None:
    from bot.cli import SQL_LOGGERS, setup_logging

    root = logging.getLogger()
    before = root.level, {n: logging.getLogger(n).level for n in SQL_LOGGERS}
    try:
        setup_logging("DEBUG", sql=sql)
        root.setLevel(logging.DEBUG)
        for name in ("aiosqlite", "asyncpg", "sqlalchemy.engine.Engine"):
            assert logging.getLogger(name).isEnabledFor(logging.DEBUG) is sql, name
    finally:
        root.setLevel(before[0])
        for name, level in before[1].items():
            logging.getLogger(name).setLevel(level)
