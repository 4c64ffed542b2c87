"""Web chat: a small chat page and the JSON API it uses (also the API for commune websites).

``POST /api/chat`` takes ``{"user": "<opaque id>", "text": "..."}`` or ``{"user": ..., "button":
"<token>"}`` and answers ``{"user": ..., "replies": [{"text", "buttons", "image", "choices"}]}``.
A missing or malformed ``user`` is never taken for someone else's: the server issues a new id.
``GET /api/inbox?user=...`` returns replies pushed to the user since the last call.
A reply carrying a file (a report) also has ``"document": {"url", "name"}``: a download link
that expires (relative to this server unless ``web.public_url`` is set).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Sequence
from importlib import resources
from typing import Any

from aiohttp import web

from bot.channels.base import Channel
from bot.core.events import ButtonPress, Event, Sender, TextMessage
from bot.core.ports import Capabilities, Core
from bot.core.replies import Reply

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_TEXT = 4000
USER_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_user_id() -> str:
    """A fresh opaque user id (24 URL-safe characters)."""
    return secrets.token_urlsafe(18)


def reply_json(reply: Reply, core: Core | None = None) -> dict[str, Any]:
    """One reply as the API shows it (with ``document``: a download link, when it has a file)."""
    out: dict[str, Any] = {
        "text": reply.text,
        "buttons": [{"label": b.label, "payload": b.payload} for b in reply.buttons],
        "image": reply.image,
        "choices": reply.choices,
    }
    if reply.document and core is not None:
        out["document"] = document_json(reply.document, core)
    return out


def document_json(ref: str, core: Core) -> dict[str, str]:
    """A file for the user: its download link (relative when no public URL is set) and name."""
    return {"url": core.file_link(ref, relative=True), "name": ref.partition("/")[2]}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class WebChannel(Channel):
    """The built-in web chat."""

    name = "web"
    capabilities = Capabilities(buttons=True, images=True, max_text=MAX_TEXT, markup="raw")

    def routes(self) -> list[web.RouteDef]:
        """The chat page, the chat API and the inbox."""
        return [
            web.get("/", self.page),
            web.post("/api/chat", self.chat),
            web.get("/api/inbox", self.inbox),
        ]

    async def page(self, request: web.Request) -> web.Response:
        """The chat page, with its texts from content."""
        messages = self.core.messages
        template = resources.files("bot.channels").joinpath("web_page.html").read_text("utf-8")
        texts = {
            "title": messages("web.title"),
            "placeholder": messages("web.placeholder"),
            "send": messages("web.send"),
            "greeting": messages("web.greeting"),
            "error": messages("fallback.error"),
        }
        body = template.replace("__TEXTS__", json.dumps(texts, ensure_ascii=False))
        body = body.replace("__TITLE__", texts["title"])
        return web.Response(text=body, content_type="text/html", charset="utf-8")

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, "body too large (max 64 KB)")
        try:
            raw = await request.content.read(MAX_BODY + 1)
        except Exception:
            return _error(400, "could not read the body")
        if len(raw) > MAX_BODY:
            return _error(413, "body too large (max 64 KB)")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _error(400, "body must be JSON")
        if not isinstance(data, dict):
            return _error(400, "body must be a JSON object")
        return data

    async def chat(self, request: web.Request) -> web.Response:
        """Handle one message or button press from the page (or an embedding website)."""
        data = await self._body(request)
        if isinstance(data, web.Response):
            return data
        user = data.get("user")
        if not isinstance(user, str) or not USER_ID.match(user):
            user = new_user_id()
        name = data.get("name")
        sender = Sender(self.name, user, name[:64] if isinstance(name, str) else None)
        event: Event
        if "button" in data:
            token = data["button"]
            if not isinstance(token, str) or not token or len(token) > 64:
                return _error(400, "button must be a short string")
            event = ButtonPress(sender=sender, payload=token)
        elif "text" in data:
            text = data["text"]
            if not isinstance(text, str):
                return _error(400, "text must be a string")
            if len(text) > MAX_TEXT:
                return _error(400, f"text too long (max {MAX_TEXT} characters)")
            event = TextMessage(sender=sender, text=text)
        else:
            return _error(400, "give either text or button")
        replies = await self.core.handle(event, self.capabilities)
        return web.json_response(
            {"user": user, "replies": [reply_json(r, self.core) for r in replies]},
            dumps=lambda d: json.dumps(d, ensure_ascii=False),
        )

    async def inbox(self, request: web.Request) -> web.Response:
        """Replies pushed to this user since the last call (answers from the team, broadcasts)."""
        user = request.query.get("user", "")
        if not USER_ID.match(user):
            return _error(400, "user must be the id issued by /api/chat")
        replies = await self.core.outbox_take(user)
        return web.json_response(
            {"replies": replies}, dumps=lambda d: json.dumps(d, ensure_ascii=False)
        )

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Queue pushed replies until the page fetches them."""
        await self.core.outbox_put(external_id, [reply_json(r, self.core) for r in replies])
