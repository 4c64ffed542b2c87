"""A fake Zalo Bot API server on 127.0.0.1 (aiohttp), and helpers to drive the bot through it.

``POST /bot<token>/<method>`` with JSON; answers ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": N, "description": ...}`` with the same HTTP status. getUpdates
returns one update (not a list) or, when nothing arrives within ``timeout`` seconds, HTTP 408
``Request timeout`` like the real platform. Every call is recorded; failures (429, 401, 500,
a dropped connection) can be injected on demand. ``Citizen`` chats with the real bot through it
(long polling or the webhook) and reads back what the bot sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import time
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import App, build_app
from bot.channels.base import Backoff
from bot.channels.zalo import SECRET_HEADER, ZaloChannel
from bot.config import Config, Secrets, ZaloConfig
from storage.db import Database
from tests.waiting import eventually

TOKEN = "1234567890:fake-zalo-token-SECRET"


@dataclass
class Call:
    """One recorded API call."""

    method: str
    body: dict[str, Any]
    status: int
    at: float = field(default_factory=time.monotonic)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CHOICE = re.compile(r"^(?:([0-9])\ufe0f\u20e3|(\U0001f51f)|([A-H]|[1-9][0-9])\.) (.+)$")


class FakeZalo:
    """The fake API. ``base_url`` is what goes into ``zalo.base_url``."""

    def __init__(self, token: str = TOKEN, *, max_wait: float | None = None) -> None:
        self.token = token
        self.max_wait = max_wait  # cap on getUpdates waits, to keep tests quick
        self.calls: list[Call] = []
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.failures: dict[str, list[int | str | tuple[int, str]]] = {}
        self.revoked = False
        self.webhook: dict[str, Any] = {}
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._ids = itertools.count(1)
        self.late: dict[str, float] = {}  # chat id -> seconds a send waits before its answer
        self.received: list[dict[str, Any]] = []  # every sendMessage body, as it arrived
        self.polls = 0  # getUpdates calls started
        self.handed: dict[str, int] = {}  # message id -> the poll that handed it out

    @property
    def base_url(self) -> str:
        """The server's address (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> FakeZalo:
        """Listen on 127.0.0.1 (a free port unless given)."""
        app = web.Application()
        app.router.add_route("*", "/{bot}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = port or self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- scripting ----------------------------------------------------------------------

    def message(
        self,
        chat_id: str,
        text: str | None = None,
        *,
        event: str = "message.text.received",
        name: str = "Bác Ba",
        message_id: str | None = None,
        wrapped: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        """An update as Zalo sends it (webhook body; getUpdates result when unwrapped)."""
        message: dict[str, Any] = {
            "from": {"id": chat_id, "display_name": name, "is_bot": False},
            "chat": {"id": chat_id, "chat_type": "PRIVATE"},
            "message_id": message_id or f"{next(self._ids):020x}",
            "date": int(time.time() * 1000),
            **extra,
        }
        if text is not None:
            message["text"] = text
        update = {"event_name": event, "message": message}
        return {"ok": True, "result": update} if wrapped else update

    def push(self, update: dict[str, Any]) -> None:
        """Queue an update for the next getUpdates."""
        self.updates.put_nowait(update.get("result", update))

    def fail(self, method: str, *codes: int | str | tuple[int, str]) -> None:
        """Answer the next calls of ``method`` with these errors: an HTTP code, a (code,
        description) pair, or "drop" (the connection is closed without an answer)."""
        self.failures.setdefault(method, []).extend(codes)

    def revoke(self) -> None:
        """The token is reset: every call now gets 401."""
        self.revoked = True

    # --- inspection ---------------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        """Recorded calls of ``method``."""
        return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: str | None = None) -> list[Call]:
        """Successful sendMessage/sendPhoto calls (to ``chat_id`` when given), in order."""
        return [
            c
            for c in self.calls
            if c.method in ("sendMessage", "sendPhoto")
            and c.status == 200
            and (chat_id is None or c.body.get("chat_id") == chat_id)
        ]

    def texts(self, chat_id: str | None = None, since: int = 0) -> list[str]:
        """Texts (and captions) successfully sent, from the ``since``-th on."""
        return [
            str(c.body.get("text") or c.body.get("caption") or "")
            for c in self.sent(chat_id)[since:]
        ]

    # --- the API ------------------------------------------------------------------------

    async def _record(self, call: Call) -> None:
        self.calls.append(call)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if request.match_info["bot"] != f"bot{self.token}" or self.revoked:
            await self._record(Call(method, body, 401))
            return _error(401, "Unauthorized")
        queued = self.failures.get(method)
        if queued:
            failure = queued.pop(0)
            if failure == "drop":
                await self._record(Call(method, body, 0))
                assert request.transport is not None
                request.transport.close()
                raise ConnectionResetError("dropped by the fake")
            if isinstance(failure, tuple):
                code, description = failure
            else:
                code = int(failure)
                description = {429: "Quota exceeded"}.get(code, "Error")
            await self._record(Call(method, body, code))
            return _error(code, description)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            await self._record(Call(method, body, 400))
            return _error(400, "Bad request")
        status, result = await handler(body)
        await self._record(Call(method, body, status))
        if status != 200:
            return _error(status, str(result))
        return web.json_response({"ok": True, "result": result})

    async def _m_getMe(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {
            "id": self.token.split(":", 1)[0],
            "account_name": "bot.troly.so",
            "account_type": "BASIC",
            "can_join_groups": False,
        }

    async def _m_getUpdates(self, body: dict[str, Any]) -> tuple[int, Any]:
        try:
            wait = float(body.get("timeout", 30))
        except (TypeError, ValueError):
            wait = 30.0
        if self.max_wait is not None:
            wait = min(wait, self.max_wait)
        self.polls += 1
        poll = self.polls
        try:
            update = await asyncio.wait_for(self.updates.get(), timeout=wait)
        except TimeoutError:
            return 408, "Request timeout"
        message = update.get("message")
        if isinstance(message, dict) and isinstance(message.get("message_id"), str):
            self.handed[message["message_id"]] = poll
        return 200, update

    async def _m_sendMessage(self, body: dict[str, Any]) -> tuple[int, Any]:
        self.received.append(body)
        late = self.late.get(str(body.get("chat_id")))
        if late:
            await asyncio.sleep(late)  # delivered, but the answer comes after the bot gave up
        text = body.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 2000 or not body.get("chat_id"):
            return 400, "Bad request"
        return 200, {"message_id": f"{next(self._ids):020x}", "date": int(time.time() * 1000)}

    async def _m_sendPhoto(self, body: dict[str, Any]) -> tuple[int, Any]:
        caption = body.get("caption")
        if caption is not None and (not isinstance(caption, str) or not 1 <= len(caption) <= 2000):
            return 400, "Bad request"
        if not isinstance(body.get("photo"), str) or not body.get("chat_id"):
            return 400, "Bad request"
        return 200, {"message_id": f"{next(self._ids):020x}", "date": int(time.time() * 1000)}

    async def _m_sendChatAction(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, None

    async def _m_setWebhook(self, body: dict[str, Any]) -> tuple[int, Any]:
        secret = body.get("secret_token")
        if not isinstance(body.get("url"), str) or not isinstance(secret, str):
            return 400, "Bad request"
        if not 8 <= len(secret) <= 256:
            return 400, "Bad request"
        self.webhook = {"url": body["url"], "secret_token": secret}
        return 200, {"url": body["url"], "updated_at": int(time.time() * 1000)}

    async def _m_deleteWebhook(self, body: dict[str, Any]) -> tuple[int, Any]:
        self.webhook = {}
        return 200, {"url": "", "updated_at": int(time.time() * 1000)}

    async def _m_getWebhookInfo(self, body: dict[str, Any]) -> tuple[int, Any]:
        if not self.webhook:
            return 404, "Not Found"
        return 200, {"url": self.webhook["url"], "updated_at": int(time.time() * 1000)}


def _error(code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": code, "description": description}, status=code
    )


# --- the bot side ----------------------------------------------------------------------

SECRET = "webhook-secret-0123456789"
WEBHOOK_URL = "https://bot.example.vn/zalo/webhook"


def zalo_config(config: Config, fake: FakeZalo, *, webhook: bool = False, **secrets: str) -> Config:
    """The test config with the Zalo channel pointed at the fake server."""
    return replace(
        config,
        zalo=ZaloConfig(
            base_url=fake.base_url, webhook_url=WEBHOOK_URL if webhook else "", poll_timeout=1
        ),
        secrets=Secrets(
            zalo_token=fake.token, zalo_webhook_secret=SECRET if webhook else "", **secrets
        ),
    )


def quick(channel: ZaloChannel) -> ZaloChannel:
    """Short pauses for tests; no typing indicator unless a test asks for it."""
    channel.retry = Backoff((0.01, 0.02, 0.05), cap=0.1)
    channel.typing_after = None
    channel.push_retry_after = 1.0
    return channel


async def start_bot(
    config: Config, db: Database, fake: FakeZalo, *, webhook: bool = False, **secrets: str
) -> App:
    """Build the app as production does, with short pauses, and start it."""
    app = build_app(zalo_config(config, fake, webhook=webhook, **secrets), db=db)
    quick(zalo(app))
    await app.start()
    await eventually(lambda: fake.of("getUpdates") or fake.webhook)
    return app


async def handled(app: App, fake: FakeZalo, updates: list[dict[str, Any]]) -> None:
    """Wait until the bot has taken these updates (polled: a poll came after the last one was
    handed out) and handled everything it took."""
    channel = zalo(app)
    if channel.mode == "polling":
        ids = [update.get("result", update)["message"]["message_id"] for update in updates]
        await eventually(lambda: all(fake.polls > fake.handed.get(i, fake.polls) for i in ids))
    await channel.settle()


def zalo(app: App) -> ZaloChannel:
    """The app's Zalo channel."""
    channel = app.channels["zalo"]
    assert isinstance(channel, ZaloChannel)
    return channel


def port(app: App) -> int:
    """The port the app's HTTP server listens on."""
    assert app.runner is not None
    return int(app.runner.addresses[0][1])


class Citizen:
    """A person chatting with the bot on Zalo, through polling or the webhook."""

    def __init__(
        self, app: App, fake: FakeZalo, chat_id: str = "6ede9afa66b88fe6d6a9", name: str = "Bác Ba"
    ) -> None:
        self.app = app
        self.fake = fake
        self.chat_id = chat_id
        self.name = name
        self.channel = zalo(app)
        self.last = ""

    async def deliver(self, update: dict[str, Any]) -> None:
        """Hand an update to the bot the way the channel's mode receives it."""
        if self.channel.mode == "webhook":
            status = await post_webhook(self.app, update)
            assert status == 200
        else:
            self.fake.push(update)

    async def send(self, update: dict[str, Any]) -> str:
        """Deliver an update, wait until it is handled; returns what the bot sent back."""
        before = len(self.fake.sent(self.chat_id))
        await self.deliver(update)
        await handled(self.app, self.fake, [update])
        self.last = "\n\n".join(self.fake.texts(self.chat_id, since=before))
        return self.last

    async def say(self, text: str) -> str:
        """Type ``text``; returns the bot's answer (all its messages joined)."""
        return await self.send(self.fake.message(self.chat_id, text, name=self.name))

    def key(self, label: str) -> str:
        """The number or letter the last answer shows in front of a line containing ``label``."""
        for key, line in self.choices():
            if label.lower() in line.lower():
                return key
        raise AssertionError(f"no numbered line with {label!r} in:\n{self.last}")

    def choices(self) -> list[tuple[str, str]]:
        """Every (key, label) line of the last answer: "1️⃣ label"... "🔟 label", "A. label"."""
        found = []
        for line in self.last.splitlines():
            match = CHOICE.match(line.strip())
            if match:
                digit, _ten, letter, label = match.groups()
                found.append((digit or letter or "10", label))
        return found


async def post_webhook(
    app: App, body: object, secret: str | None = SECRET, raw: bytes | None = None
) -> int:
    """POST a webhook body to the running app as Zalo would; returns the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    url = f"http://127.0.0.1:{port(app)}{zalo(app).webhook_path}"
    async with aiohttp.ClientSession() as session:
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with session.post(url, headers=headers, **kwargs) as response:
            await response.read()
            return response.status
