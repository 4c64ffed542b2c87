"""Hostile input through the Telegram and Zalo channels (issue #18, "Done when").

Each test feeds 2,000+ generated messages from a fixed seed through the real channel, core,
handlers and SQLite database, against the fake platforms: odd Unicode, control characters,
markup, oversized text, commands that do not exist, forged buttons, stickers and photos,
broken update fields, groups, duplicates. It asserts no 5xx from our webhooks, no traceback
and no error line in the logs, every message we sent accepted by the platform, and every
private text answered. Bounded in time by ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.app import App
from bot.channels.telegram import TelegramChannel
from bot.config import Config
from storage.db import Database
from tests.fake_telegram import FakeTelegram
from tests.fake_zalo import SECRET, FakeZalo, port, start_bot, zalo
from tests.waiting import eventually

SEED = 18
MESSAGES = 2000
USERS = 120
LIMIT = 150.0  # seconds for one channel's whole run, on a loaded 2-core machine

PIECES = [
    "xin chào",
    "quen mat khau vneid",
    "Làm sao nộp hồ sơ trên Cổng dịch vụ công?",
    "ko bit lam sao ck tien",
    "1",
    "A",
    "0",
    "menu",
    "/start",
    "/start 🤖",
    "/nosuchcommand arg",
    "/help@trolyso_test_bot",
    "/privacy",
    "<b>đậm</b> & <script>alert(1)</script>",
    "**sao** __gạch__ `mã`",
    "'; DROP TABLE users; --",
    "\x00\x01\x02\x1b[31m",
    "\u202eRTL override\u202c",
    "zero\u200bwidth\u200djoiner",
    "e\u0301\u0300\u0323 dấu chồng",
    "👍🏽👨‍👩‍👧‍👦🇻🇳",
    "𝓯𝓪𝓷𝓬𝔂 𝕥𝕖𝕩𝕥",
    "\t \n ",
    "?",
    "{{name}} {0} %s %(x)s",
    "\\u0000 \\n",
]


def hostile_text(rng: random.Random) -> str:
    """One generated message text (never empty: platforms do not deliver empty texts)."""
    kind = rng.random()
    if kind < 0.5:
        text = rng.choice(PIECES)
    elif kind < 0.75:
        text = " ".join(rng.choice(PIECES) for _ in range(rng.randint(2, 6)))
    elif kind < 0.9:
        text = "".join(
            chr(
                rng.choice(
                    [
                        rng.randint(32, 0x2FF),
                        rng.randint(0x1EA0, 0x1EF9),
                        rng.randint(0x1F300, 0x1F6FF),
                        rng.randint(0x4E00, 0x4E80),
                    ]
                )
            )
            for _ in range(rng.randint(1, 300))
        )
    else:
        text = rng.choice(PIECES) * rng.randint(50, 400)
    return text[:4096] if text.strip() else "?"


def quiet_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Error lines and tracebacks in the logs (the fakes' own server logs left out)."""
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if (r.levelno >= logging.ERROR or r.exc_info) and not r.name.startswith("aiohttp")
    ]


# ---- Telegram ---------------------------------------------------------------------------------


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


def telegram_update(fake: FakeTelegram, rng: random.Random) -> tuple[dict[str, Any], int | None]:
    """A generated update and the private chat it expects an answer in (None: no answer)."""
    user = rng.randint(1, USERS)
    roll = rng.random()
    if roll < 0.70:
        return fake.text_update(user, hostile_text(rng)), user
    if roll < 0.80:
        data = "".join(chr(rng.randint(33, 126)) for _ in range(rng.randint(1, 64)))
        return fake.callback_update(user, data), user
    if roll < 0.87:
        maker = rng.choice([fake.sticker_update, fake.voice_update, fake.photo_update])
        return maker(user), user
    if roll < 0.92:  # a group chat: never answered
        update = fake.text_update(user, hostile_text(rng))
        update["message"]["chat"] = {"id": -1000 - user, "type": "group", "title": "Thôn"}
        return update, None
    # Broken fields: skipped with a warning, polling goes on.
    update = fake.text_update(user, hostile_text(rng))
    broken = rng.choice(["entities", "date", "message", "chat", "from"])
    if broken == "entities":
        update["message"]["entities"] = "notalist"
    elif broken == "date":
        update["message"]["date"] = "yesterday"
    elif broken == "message":
        update["message"] = [1, 2, 3]
    elif broken == "chat":
        update["message"]["chat"] = "private"
    else:
        update["message"]["from"] = {"id": "x"}
    return update, None


async def test_telegram_survives_2000_hostile_messages(
    app: App, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_telegram
    caplog.set_level(logging.WARNING)
    channel = TelegramChannel(
        app.core,
        fake.token,
        base_url=fake.base_url,
        backoff=(0.01,),
        poll_timeout=0.5,
        max_rate=0,  # no pacing: the fake has no flood control to respect
    )
    app.channels[channel.name] = channel
    await channel.start()
    rng = random.Random(SEED)
    expected: Counter[int] = Counter()
    try:
        await asyncio.wait_for(channel.ready.wait(), 10)
        updates = []
        for _ in range(MESSAGES):
            update, chat = telegram_update(fake, rng)
            updates.append(update)
            if chat is not None:
                expected[chat] += 1
        for start in range(0, len(updates), 100):
            fake.push(*updates[start : start + 100])
        await eventually(
            lambda: all(len(fake.sent_to(c)) >= n for c, n in expected.items()), within=LIMIT
        )
        await fake.quiet(0.3)
    finally:
        await channel.stop()
    rejected = [c for c in fake.of("sendMessage") if not c.ok]
    assert rejected == [], rejected[:3]
    assert all(not fake.sent_to(-1000 - u) for u in range(USERS + 1))
    assert quiet_logs(caplog) == []


# ---- Zalo -------------------------------------------------------------------------------------


@pytest.fixture
async def fake_zalo() -> AsyncIterator[FakeZalo]:
    server = await FakeZalo(max_wait=0.2).start()
    yield server
    await server.stop()


def zalo_body(fake: FakeZalo, rng: random.Random, n: int) -> tuple[Any, str | None]:
    """A generated webhook body and the chat it expects an answer in (None: no answer)."""
    chat = f"z{rng.randint(1, USERS):04d}"
    roll = rng.random()
    if roll < 0.72:
        return fake.message(
            chat, hostile_text(rng), message_id=f"m{n}", wrapped=rng.random() < 0.5
        ), chat
    if roll < 0.80:
        event = rng.choice(
            [
                "message.sticker.received",
                "message.image.received",
                "message.voice.received",
                "message.video.received",
            ]
        )
        return fake.message(chat, event=event, message_id=f"m{n}", sticker="s"), chat
    if roll < 0.85:  # a group: never answered
        update = fake.message(chat, hostile_text(rng), message_id=f"m{n}", wrapped=False)
        update["message"]["chat"]["chat_type"] = "GROUP"
        return update, None
    if roll < 0.90:  # a bot, a reaction: ignored
        update = fake.message(chat, "hi", message_id=f"m{n}", wrapped=False)
        update["message"]["from"]["is_bot"] = True
        return update, None
    odd: list[Any] = [
        {},
        {"event_name": 5},
        {"event_name": "message.text.received", "message": "text"},
        {"event_name": "message.text.received", "message": {"from": {"id": ["x"]}, "text": "a"}},
        {"ok": True, "result": {"event_name": "message.text.received", "message": None}},
        {"event_name": "message.text.received", "message": {"chat": {"id": True}, "text": 3}},
    ]
    return rng.choice(odd), None


async def test_zalo_survives_2000_hostile_messages(
    config: Config, db: Database, fake_zalo: FakeZalo, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_zalo
    caplog.set_level(logging.WARNING)
    app = await start_bot(config, db, fake, webhook=True)
    rng = random.Random(SEED)
    expected: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    url = f"http://127.0.0.1:{port(app)}{zalo(app).webhook_path}"
    headers = {"X-Bot-Api-Secret-Token": SECRET}
    try:
        async with asyncio.timeout(LIMIT), aiohttp.ClientSession() as session:
            for n in range(MESSAGES):
                body, chat = zalo_body(fake, rng, n)
                if chat is not None:
                    expected[chat] += 1
                async with session.post(url, json=body, headers=headers) as response:
                    statuses[response.status] += 1
            for raw in (b"[" * 50_000, b"\xff\xfe", b"{" + b'"a":' * 1000):
                async with session.post(url, data=raw, headers=headers) as response:
                    statuses[response.status] += 1
            await zalo(app).settle()
    finally:
        await app.stop()
    assert not any(status >= 500 for status in statuses), statuses
    got = Counter(str(c.body.get("chat_id")) for c in fake.sent())
    short = {c: (got[c], n) for c, n in expected.items() if got[c] < n}
    assert short == {}, list(short.items())[:5]
    assert [c for c in fake.of("sendMessage") if c.status != 200] == []
    assert quiet_logs(caplog) == []
