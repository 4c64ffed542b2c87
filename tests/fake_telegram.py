"""A fake Telegram Bot API server on 127.0.0.1 for tests and the throughput bench.

PTB reaches it through ``base_url`` (``http://127.0.0.1:<port>/bot``) exactly as it reaches
api.telegram.org: same URLs, same form/multipart bodies, same JSON answers and error shapes.
It answers getMe, getUpdates (long polling over a queue of updates), sendMessage, sendPhoto,
answerCallbackQuery, setWebhook, deleteWebhook, setMyCommands and a few harmless others,
and records every call. On demand it answers 429 with ``retry_after``, 403 "bot was blocked by
the user", or a 5xx, like the real server under load.

In a test::

    fake = FakeTelegram()
    await fake.start()
    fake.push(fake.text_update(42, "/start"))
    await fake.wait_for(lambda: fake.sent_to(42))

As a separate process (the bench): ``python -m tests.fake_telegram --port 0`` prints
``listening <port>``; ``POST /_fake/updates`` queues updates and ``GET /_fake/stats`` reports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.waiting import eventually

TOKEN = "123456789:AAFakeTokenForTestsOnly-abcdefghijkl"
BOT_ID = 123456789
BOT_USERNAME = "trolyso_test_bot"

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
ALLOWED_TAGS = re.compile(
    r"</?(b|strong|i|em|u|ins|s|strike|del|code|pre|a|tg-spoiler|blockquote)(\s[^>]*)?>"
)


@dataclass
class Call:
    """One API call as the fake received it: the method and its decoded parameters."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    ok: bool = False

    @property
    def chat_id(self) -> int | None:
        """The target chat, when the call has one."""
        value = self.params.get("chat_id")
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def keyboard(self) -> list[tuple[str, str]]:
        """Inline buttons as (label, callback_data), row by row."""
        markup = self.params.get("reply_markup") or {}
        rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    @property
    def text(self) -> str:
        """The message text or photo caption."""
        return str(self.params.get("text") or self.params.get("caption") or "")


@dataclass
class Failure:
    """A canned error answer for the next matching call(s)."""

    method: str
    status: int
    description: str
    retry_after: int | None = None
    chat_id: int | None = None
    times: int = 1


def _decode(value: Any) -> Any:
    """Form values PTB JSON-encodes (reply_markup, allowed_updates, commands...)."""
    if isinstance(value, str) and value[:1] in "[{":
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


class FakeTelegram:
    """The fake Bot API server. ``calls`` records everything; helpers build and queue updates."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.confirmed = 0  # every update_id below this was confirmed by an offset
        self.webhook: dict[str, Any] = {}
        self.blocked: set[int] = set()
        self.delays: dict[int, float] = {}
        self.failures: list[Failure] = []
        self.commands: list[dict[str, str]] = []
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._new_update = asyncio.Event()
        self._new_call = asyncio.Event()
        self._confirmation = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- server lifecycle -------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application: the Bot API routes and the control routes."""
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_post("/_fake/updates", self._control_updates)
        app.router.add_get("/_fake/stats", self._control_stats)
        app.router.add_get("/_fake/confirmed", self._control_confirmed)
        app.router.add_post("/_fake/reset", self._control_reset)
        return app

    async def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1 (a free port by default); returns the base_url for PTB."""
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self.base_url

    async def stop(self) -> None:
        """Stop listening."""
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """What ``telegram.base_url`` should be to reach this fake."""
        return f"http://127.0.0.1:{self.port}/bot"

    # ---- test controls ----------------------------------------------------------------------

    def push(self, *updates: dict[str, Any]) -> list[dict[str, Any]]:
        """Queue updates for getUpdates (update ids are assigned here)."""
        for update in updates:
            update["update_id"] = next(self._ids)
            self.updates.append(update)
        self._new_update.set()
        return list(updates)

    def stamp(self, update: dict[str, Any]) -> dict[str, Any]:
        """Give an update its id without queueing it (to POST it to a webhook)."""
        update["update_id"] = next(self._ids)
        return update

    def fail(
        self,
        method: str,
        status: int,
        description: str = "",
        *,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat_id``) with an error."""
        if not description:
            description = {
                429: f"Too Many Requests: retry after {retry_after or 1}",
                403: "Forbidden: bot was blocked by the user",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }.get(status, "Bad Request")
        self.failures.append(Failure(method, status, description, retry_after, chat_id, times))

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: every later send to them answers 403."""
        self.blocked.add(chat_id)

    def of(self, method: str) -> list[Call]:
        """Recorded calls of one method."""
        return [c for c in self.calls if c.method == method]

    def sent_to(self, chat_id: int) -> list[Call]:
        """Messages and photos successfully sent to a chat, in order."""
        return [
            c
            for c in self.calls
            if c.method in ("sendMessage", "sendPhoto") and c.chat_id == chat_id and c.ok
        ]

    def texts_to(self, chat_id: int) -> str:
        """Every text sent to a chat, joined."""
        return "\n".join(c.text for c in self.sent_to(chat_id))

    def last_keyboard(self, chat_id: int) -> list[tuple[str, str]]:
        """The buttons of the last message to ``chat_id`` that had any."""
        for call in reversed(self.sent_to(chat_id)):
            if call.keyboard:
                return call.keyboard
        return []

    def button(self, chat_id: int, label: str) -> str:
        """The callback_data of the button labelled ``label`` in recent messages to a chat."""
        for call in reversed(self.sent_to(chat_id)):
            for text, data in call.keyboard:
                if text == label:
                    return data
        raise AssertionError(f"no button {label!r} sent to {chat_id}")

    async def wait_for(self, condition: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait until ``condition()`` is truthy; returns its value."""
        return await eventually(condition, within=within, describe=lambda: self.summary())

    async def quiet(self, seconds: float = 0.3) -> None:
        """Wait until no call arrived for ``seconds``."""
        while True:
            count = len(self.calls)
            await asyncio.sleep(seconds)
            if len(self.calls) == count:
                return

    def summary(self) -> list[str]:
        """Method names of recorded calls, for failure messages."""
        return [c.method for c in self.calls]

    # ---- update builders --------------------------------------------------------------------

    @staticmethod
    def user(
        user_id: int, first_name: str = "Ba", last_name: str | None = "Nguyễn"
    ) -> dict[str, Any]:
        """A Telegram user object."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        user["language_code"] = "vi"
        return user

    def _message(self, user_id: int, **fields: Any) -> dict[str, Any]:
        sender = fields.pop("from_user", None) or self.user(user_id)
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": sender["first_name"]},
            "from": sender,
            **fields,
        }

    def text_update(self, user_id: int, text: str, **user: Any) -> dict[str, Any]:
        """A private text message (commands get their ``bot_command`` entity)."""
        fields: dict[str, Any] = {"text": text}
        if user:
            fields["from_user"] = self.user(user_id, **user)
        if text.startswith("/"):
            command = text.split(" ", 1)[0]
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"message": self._message(user_id, **fields)}

    def callback_update(self, user_id: int, data: str) -> dict[str, Any]:
        """A press on an inline button whose callback_data is ``data``."""
        bot = {"id": BOT_ID, "is_bot": True, "first_name": "Trợ lý số"}
        message = self._message(user_id, text="...", from_user=bot)
        message["chat"]["first_name"] = "Ba"
        return {
            "callback_query": {
                "id": str(next(self._message_ids)),
                "from": self.user(user_id),
                "chat_instance": "ci",
                "message": message,
                "data": data,
            }
        }

    def sticker_update(self, user_id: int) -> dict[str, Any]:
        """A sticker."""
        sticker = {
            "file_id": "stk",
            "file_unique_id": "stku",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return {"message": self._message(user_id, sticker=sticker)}

    def photo_update(self, user_id: int, caption: str = "") -> dict[str, Any]:
        """A photo (optionally with a caption)."""
        photo = [{"file_id": "ph", "file_unique_id": "phu", "width": 90, "height": 90}]
        fields: dict[str, Any] = {"photo": photo}
        if caption:
            fields["caption"] = caption
        return {"message": self._message(user_id, **fields)}

    def voice_update(self, user_id: int) -> dict[str, Any]:
        """A voice note."""
        voice = {"file_id": "vc", "file_unique_id": "vcu", "duration": 3}
        return {"message": self._message(user_id, voice=voice)}

    def blocked_update(self, user_id: int) -> dict[str, Any]:
        """``my_chat_member``: the user blocked the bot."""
        bot = {"id": BOT_ID, "is_bot": True, "first_name": "Trợ lý số"}
        return {
            "my_chat_member": {
                "chat": {"id": user_id, "type": "private", "first_name": "Ba"},
                "from": self.user(user_id),
                "date": int(time.time()),
                "old_chat_member": {"status": "member", "user": bot},
                "new_chat_member": {"status": "kicked", "user": bot, "until_date": 0},
            }
        }

    # ---- the Bot API ------------------------------------------------------------------------

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {k: _decode(v) for k, v in request.query.items()}
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = {"upload": value.filename, "size": len(value.file.read())}
                else:
                    params[key] = _decode(value)
        return params

    def _failure(self, method: str, params: dict[str, Any]) -> web.Response | None:
        chat = params.get("chat_id")
        for failure in self.failures:
            if failure.method != method:
                continue
            if failure.chat_id is not None and str(failure.chat_id) != str(chat):
                continue
            failure.times -= 1
            if failure.times <= 0:
                self.failures.remove(failure)
            return self._error(failure.status, failure.description, failure.retry_after)
        return None

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params)
        self.calls.append(call)
        try:
            failure = self._failure(method, params)
            if failure is not None:
                return failure
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                return self._error(404, "Not Found: method not found")
            delay = self.delays.get(call.chat_id or 0, 0.0)
            if delay:
                await asyncio.sleep(delay)
            response: web.StreamResponse = await handler(params)
            call.ok = response.status == 200
            return response
        finally:
            self._new_call.set()

    async def _m_getMe(self, params: dict[str, Any]) -> web.Response:
        return self._ok(
            {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Trợ lý số",
                "username": BOT_USERNAME,
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook.get("url"):
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        limit = min(int(params.get("limit") or 100), 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self.confirmed = max(self.confirmed, offset)
            self._confirmation.set()
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while True:
            ready = [u for u in self.updates if u["update_id"] >= offset][:limit]
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0:
                return self._ok(ready)
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), remaining)

    def _message_result(self, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Ba"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Trợ lý số"},
            **fields,
        }

    def _check_send(self, params: dict[str, Any], text: str, limit: int) -> web.Response | None:
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, TypeError, ValueError):
            return self._error(400, "Bad Request: chat_id is empty")
        if chat_id in self.blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        if len(text) > limit:
            what = "message is too long" if limit == MAX_TEXT else "message caption is too long"
            return self._error(400, f"Bad Request: {what}")
        if params.get("parse_mode") == "HTML":
            stripped = ALLOWED_TAGS.sub("", text)
            if "<" in stripped or ">" in stripped:
                return self._error(400, "Bad Request: can't parse entities: unsupported tag")
        for label, data in Call("", params).keyboard:
            if not label or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                return self._error(400, "Bad Request: BUTTON_DATA_INVALID")
        return None

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        text = str(params.get("text") or "")
        if not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        error = self._check_send(params, text, MAX_TEXT)
        if error is not None:
            return error
        return self._ok(self._message_result(params, text=text))

    async def _m_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        caption = str(params.get("caption") or "")
        if not params.get("photo"):
            return self._error(400, "Bad Request: there is no photo in the request")
        error = self._check_send(params, caption, MAX_CAPTION)
        if error is not None:
            return error
        photo = [{"file_id": "sent", "file_unique_id": "sentu", "width": 90, "height": 90}]
        return self._ok(self._message_result(params, photo=photo, caption=caption or None))

    async def _m_sendDocument(self, params: dict[str, Any]) -> web.Response:
        caption = str(params.get("caption") or "")
        document = params.get("document")
        if not document:
            return self._error(400, "Bad Request: there is no document in the request")
        error = self._check_send(params, caption, MAX_CAPTION)
        if error is not None:
            return error
        name = document.get("upload") if isinstance(document, dict) else None
        sent = {"file_id": "doc", "file_unique_id": "docu", "file_name": name}
        return self._ok(self._message_result(params, document=sent, caption=caption or None))

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        if not params.get("callback_query_id"):
            return self._error(400, "Bad Request: query is too old")
        return self._ok(True)

    async def _m_setWebhook(self, params: dict[str, Any]) -> web.Response:
        secret = str(params.get("secret_token") or "")
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            return self._error(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = dict(params)
        return self._ok(True)

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = {}
        if str(params.get("drop_pending_updates")).lower() == "true":
            self.updates.clear()
        return self._ok(True)

    async def _m_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        commands = params.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command.get("command", "")):
                return self._error(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                return self._error(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = list(commands)
        return self._ok(True)

    async def _m_getMyCommands(self, params: dict[str, Any]) -> web.Response:
        return self._ok(self.commands)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def _m_close(self, params: dict[str, Any]) -> web.Response:
        return self._ok(True)

    # ---- control routes (for a bench running the fake in another process) -----------------

    async def _control_updates(self, request: web.Request) -> web.Response:
        """Queue updates: a JSON list of {"user": id, "text": ...} or {"user": id, "data": ...}."""
        items = await request.json()
        built = []
        for item in items:
            if "data" in item:
                built.append(self.callback_update(int(item["user"]), str(item["data"])))
            else:
                built.append(self.text_update(int(item["user"]), str(item["text"])))
        self.push(*built)
        return web.json_response(
            {"queued": len(built), "last": built[-1]["update_id"] if built else 0}
        )

    async def _control_stats(self, request: web.Request) -> web.Response:
        """Call counts by method, the confirmed update offset and (``?texts=1``) sent texts."""
        counts: dict[str, int] = {}
        for call in self.calls:
            counts[call.method] = counts.get(call.method, 0) + 1
        stats: dict[str, Any] = {
            "calls": counts,
            "confirmed": self.confirmed,
            "pending": len(self.updates),
        }
        if request.query.get("texts"):
            stats["texts"] = [c.text for c in self.calls if c.method == "sendMessage" and c.ok]
        return web.json_response(stats)

    async def _control_confirmed(self, request: web.Request) -> web.Response:
        """Answer once the bot confirmed every update up to ``?id=`` (fetched them all)."""
        wanted = int(request.query["id"])
        while self.confirmed <= wanted:
            self._confirmation.clear()
            await self._confirmation.wait()
        return web.json_response({"confirmed": self.confirmed})

    async def _control_reset(self, request: web.Request) -> web.Response:
        """Forget recorded calls (queued updates stay)."""
        self.calls.clear()
        self.webhook = {}
        return web.json_response({"ok": True})


async def _serve(port: int, token: str) -> None:
    fake = FakeTelegram(token)
    await fake.start(port)
    print(f"listening {fake.port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main() -> None:
    """Run the fake server until interrupted (used by bench/telegram_throughput.py)."""
    parser = argparse.ArgumentParser(description="fake Telegram Bot API server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=TOKEN)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.token))


if __name__ == "__main__":
    main()
