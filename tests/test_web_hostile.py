"""Hostile input on the web chat: 2,000+ generated requests (seeded), no 5xx, no traceback,
every text answered, within a time bound.

Texts mix Vietnamese with and without diacritics, teencode, emoji, control characters, lone
surrogates, right-to-left and zero-width characters, commands, digits, letters and very long
words; bodies mix forged button tokens, other users' tokens, wrong types, bad JSON, deep JSON,
client-chosen ids, forged credentials and wrong content types.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App

SEED = 18
USERS = 8
ROUNDS = 260  # each user sends one request per round: 2,080 requests
TIME_LIMIT = 150.0  # seconds for the whole run (a hang or a crawl fails the test)

Client = TestClient[web.Request, web.Application]

_PHRASES = (
    "xin chào menu bài học hỏi đáp tiến độ lừa đảo vneid dịch vụ công thanh toán mua sắm "
    "ko dc j ntn bn mk vs lm sao oi ơi ạ nhé ck chuyển khoản otp mã zalo sdt 0912345678 "
    "cach cai app ngan hang bi hack mat tien giup voi"
)
WORDS = _PHRASES.split()
ODD = [
    "\x00",
    "\x1b[31m",
    "\u200b",
    "\u202e",
    "\ufeff",
    "\ud800",
    "\udfff",
    "🙂",
    "👍🏽",
    "🇻🇳",
    "ㅋㅋ",
    "مرحبا",
    "𝔁𝓲𝓷",
    "\r\n",
    "\t",
    "<script>alert(1)</script>",
    "**",
    "{name}",
    "%s",
    "'; DROP TABLE users; --",
    "1️⃣",
    "A.",
]
COMMANDS = ["/start", "/start abc", "/reload", "/team", "/admin", "/xoa", "/", "//", "/" + "x" * 70]


def text_of(rng: random.Random) -> str:
    """A generated message."""
    kind = rng.random()
    if kind < 0.10:
        return rng.choice(COMMANDS)
    if kind < 0.20:
        return rng.choice(["0", "1", "2", "9", "99", "A", "b", "D", "-1", "1.5", "１"])
    if kind < 0.25:
        return rng.choice(["x" * rng.randint(200, 4000), " " * 50, "", "\n\n\n"])
    parts = [rng.choice(WORDS + ODD) for _ in range(rng.randint(1, 12))]
    return " ".join(parts)


def body_of(rng: random.Random, tokens: list[str]) -> tuple[bytes, str]:
    """A generated request body and its content type."""
    kind = rng.random()
    if kind < 0.55:
        return json.dumps({"text": text_of(rng)}).encode(), "application/json"
    if kind < 0.75 and tokens:  # a real button (maybe someone else's, maybe old)
        return json.dumps({"button": rng.choice(tokens)}).encode(), "application/json"
    if kind < 0.80:
        forged = "".join(rng.choice("abcdefXYZ0123456789:-_") for _ in range(rng.randint(1, 64)))
        return json.dumps({"button": forged}).encode(), "application/json"
    odd: list[bytes] = [
        b"",
        b"null",
        b"[]",
        b"{}",
        b'{"text": null}',
        b'{"text": ["a"]}',
        b'{"text": {"a": 1}}',
        b'{"button": 1e999}',
        b'{"text": NaN}',
        b'{"text": "a", "text": "b"}',
        b'{"user": "aaaaaaaaaaaaaaaa", "text": "hi"}',
        b'{"text": "\\ud800\\udfff\\u0000"}',
        b'{"name": "\\u0000\\ud800 Ba", "text": "xin chao"}',
        b"[" * rng.randint(10, 50_000),
        b'{"a":' * 300 + b"1" + b"}" * 300,
        b"\xff\xfe\x00",
        b'{"text": "' + b"a" * 5000 + b'"}',
        bytes(rng.randrange(256) for _ in range(rng.randint(1, 200))),
    ]
    content_type = rng.choice(["application/json"] * 4 + ["text/plain", "application/x-www-form"])
    return rng.choice(odd), content_type


@pytest.fixture
async def client(app: App) -> AsyncIterator[Client]:
    jar = DummyCookieJar()
    async with TestClient(TestServer(app.web_app(), host="127.0.0.1"), cookie_jar=jar) as c:
        yield c


async def test_hostile_web_traffic(
    app: App, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(SEED)
    identities: list[str] = []
    for _ in range(USERS):
        response = await client.post("/api/chat", json={"start": True})
        assert response.status == 200
        identities.append((await response.json())["token"])
    tokens: list[str] = []
    counts = {"requests": 0, "texts": 0, "answered": 0}

    async def one(token: str) -> None:
        body, content_type = body_of(rng, tokens)
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {token}"}
        roll = rng.random()
        if roll < 0.02:
            headers["Authorization"] = "Bearer " + token[:-2] + "xx"  # forged
        elif roll < 0.04:
            del headers["Authorization"]  # a newcomer
        path = "/api/inbox" if roll > 0.98 else "/api/chat"
        response = await client.post(path, data=body, headers=headers)
        counts["requests"] += 1
        assert response.status < 500, (response.status, body[:200])
        data: dict[str, Any] = await response.json()
        if response.status != 200 or path != "/api/chat":
            return
        replies = data["replies"]
        sent = json.loads(body) if content_type == "application/json" else None
        if isinstance(sent, dict) and isinstance(sent.get("text"), str):
            counts["texts"] += 1
            assert replies and any(r["text"] for r in replies), (body[:200], replies)
            counts["answered"] += 1
        for reply in replies:
            tokens.extend(b["payload"] for b in reply["buttons"])
        del tokens[:-200]

    async def run() -> None:
        for _ in range(ROUNDS):  # one request per user per round: each user's turns in order
            await asyncio.gather(*(one(token) for token in identities))

    started = time.monotonic()
    await asyncio.wait_for(run(), timeout=TIME_LIMIT)
    elapsed = time.monotonic() - started
    assert counts["requests"] >= 2000
    assert counts["texts"] >= 800 and counts["answered"] == counts["texts"]
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not tracebacks, tracebacks[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert elapsed < TIME_LIMIT
