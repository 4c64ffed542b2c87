"""Web chat: a small chat page and the JSON API it uses (also the API for commune websites).

Identity: the server issues it (``bot.channels.web_identity``). The first ``POST /api/chat``
without a credential gets a new identity: an HttpOnly cookie, and ``"token"`` in the answer for
clients without cookies, which then send ``Authorization: Bearer <token>``. A body naming a
``user`` is refused (ids are never chosen by clients), a forged or foreign token gets 401, and
nothing identifying ever travels in a URL.

- ``POST /api/chat`` takes ``{"text": "..."}``, ``{"button": "<token>", "label": "<shown>"}``
  (the label only for the history; optional) or ``{"start": true}``
  (a page opening with no history: the greeting, not kept as said), and an optional ``name``
  (the display name of the person holding the credential); it answers
  ``{"replies": [{"text", "buttons", "image", "choices"}]}``. A reply carrying a file (a report)
  also has ``"document": {"url", "name"}``: a download link that expires.
- ``POST /api/inbox`` returns the replies pushed to the user since the last call.
- ``GET /api/history`` returns ``{"items": [...]}``, the last things said (``{"from": "me",
  "text"}`` or ``{"from": "bot", <reply>}``), so a reloaded page shows the conversation.

POST bodies must be ``application/json`` (a cross-site form cannot send that, so the cookie
cannot be used from another site's page). When the database is out, a turn is answered with
the usual apology in the normal format (status 503).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from bot.channels.base import Channel
from bot.channels.web_identity import WebIdentities
from bot.core.events import ButtonPress, Event, Sender, TextMessage
from bot.core.ports import Capabilities, Core
from bot.core.replies import Reply

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_TEXT = 4000
MAX_DEPTH = 8  # our bodies are flat objects; deeper JSON is refused before it is parsed
COOKIE = "trolyso_web"
COOKIE_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


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


def clean(text: str) -> str:
    """Text safe to store and show: no control characters, no lone surrogates (JSON allows
    ``"\\ud800"``, no database or UTF-8 encoder does)."""
    text = text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text
    return _CONTROLS.sub("", text)


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _json(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status=status)


@dataclass(frozen=True)
class Opened(TextMessage):
    """The page opened with nothing to show: the greeting, sent for the user, not shown."""


@dataclass(frozen=True)
class Who:
    """The web user of a request; ``token`` is set when the identity was issued just now."""

    external_id: str
    token: str | None = None


class WebChannel(Channel):
    """The built-in web chat."""

    name = "web"
    capabilities = Capabilities(buttons=True, images=True, max_text=MAX_TEXT, markup="raw")

    def __init__(self, core: Core) -> None:
        super().__init__(core)
        self.identities = WebIdentities(core.web_session_key)

    def routes(self) -> list[web.RouteDef]:
        """The chat page, the chat API, the inbox and the history."""
        return [
            web.get("/", self.page),
            web.get("/embed.js", self.embed),
            web.post("/api/chat", self.chat),
            web.post("/api/inbox", self.inbox),
            web.get("/api/history", self.history),
        ]

    async def page(self, request: web.Request) -> web.Response:
        """The chat page, with its texts from content."""
        messages = self.core.messages
        template = resources.files("bot.channels").joinpath("web_page.html").read_text("utf-8")
        texts = {
            "title": messages("web.title"),
            "placeholder": messages("web.placeholder"),
            "send": messages("web.send"),
            "bigger": messages("web.bigger"),
            "error": messages("fallback.error"),
        }
        body = template.replace("__TEXTS__", json.dumps(texts, ensure_ascii=False))
        body = body.replace("__TITLE__", texts["title"])
        return web.Response(text=body, content_type="text/html", charset="utf-8")

    async def embed(self, request: web.Request) -> web.Response:
        """The script a commune website includes: a corner button opening the chat."""
        messages = self.core.messages
        template = resources.files("bot.channels").joinpath("web_embed.js").read_text("utf-8")
        texts = {
            "title": messages("web.title"),
            "open": messages("web.open"),
            "close": messages("web.close"),
        }
        body = template.replace("__TEXTS__", json.dumps(texts, ensure_ascii=False))
        return web.Response(text=body, content_type="text/javascript", charset="utf-8")

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        if request.content_type != "application/json":
            return _error(415, "the body must be JSON (Content-Type: application/json)")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, "body too large (max 64 KB)")
        try:
            raw = await request.content.read(MAX_BODY + 1)
        except Exception:
            return _error(400, "could not read the body")
        if len(raw) > MAX_BODY:
            return _error(413, "body too large (max 64 KB)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "body must be UTF-8 JSON")
        if json_depth(text) > MAX_DEPTH:
            return _error(400, f"JSON nested too deeply (max {MAX_DEPTH} levels)")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return _error(400, "body must be JSON")
        if not isinstance(data, dict):
            return _error(400, "body must be a JSON object")
        return data

    async def _who(self, request: web.Request, *, issue: bool) -> Who | web.Response | None:
        """The request's user: by bearer token, else by cookie; a new one when ``issue``.

        A bearer token that is not ours is refused (401); a bad cookie is ignored (the page
        then gets a new identity). None: no credential and nothing issued.
        """
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            external_id = (
                await self.identities.verify(token.strip()) if scheme.lower() == "bearer" else None
            )
            if external_id is None:
                return _error(401, "invalid token: use the token this server issued")
            return Who(external_id)
        cookie = request.cookies.get(COOKIE)
        if cookie:
            external_id = await self.identities.verify(cookie)
            if external_id is not None:
                return Who(external_id)
        if not issue:
            return None
        external_id, token = await self.identities.issue()
        return Who(external_id, token)

    def _remember(self, request: web.Request, response: web.Response, who: Who) -> None:
        """Give a newly issued identity to the browser as an HttpOnly cookie.

        Over HTTPS the cookie is ``SameSite=None; Secure; Partitioned``, so the chat also works
        inside a commune website's iframe (a cookie partitioned to that website); over plain
        HTTP (a local network) it is ``SameSite=Lax``.
        """
        if who.token is None:
            return
        secure = request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"
        attributes = "; Secure; SameSite=None; Partitioned" if secure else "; SameSite=Lax"
        # Written by hand: Python's http.cookies knows no "Partitioned" before 3.14.
        response.headers.add(
            "Set-Cookie",
            f"{COOKIE}={who.token}; Max-Age={COOKIE_AGE}; Path=/; HttpOnly{attributes}",
        )

    def _apology(self) -> web.Response:
        """The turn could not be handled (the database is out): the usual kind message."""
        text = self.core.messages("fallback.error")
        response = _json({"replies": [reply_json(Reply(text=text))]}, status=503)
        response.headers["Retry-After"] = "10"
        return response

    async def chat(self, request: web.Request) -> web.Response:
        """Handle one message or button press from the page (or an embedding website)."""
        data = await self._body(request)
        if isinstance(data, web.Response):
            return data
        if "user" in data:
            return _error(
                400,
                "user ids are issued by the server: keep its cookie, or send the token it "
                "gave as Authorization: Bearer <token>",
            )
        name = data.get("name")
        make_event = self._event(data)
        if isinstance(make_event, web.Response):
            return make_event
        try:
            who = await self._who(request, issue=True)
            if isinstance(who, web.Response):
                return who
            assert who is not None
            display = clean(name)[:64] if isinstance(name, str) else None
            event = make_event(Sender(self.name, who.external_id, display))
            answered = await self.core.handle(event, self.capabilities)
            replies = [reply_json(r, self.core) for r in answered]
        except Exception:
            log.exception("web: a turn failed")
            return self._apology()
        label = data.get("label")
        try:
            shown = clean(label)[:100] if isinstance(label, str) else None
            await self._record(who.external_id, event, replies, shown)
        except Exception as exc:  # the turn is done; only a reload would miss it
            log.warning("web: turn not kept for the history (%s)", type(exc).__name__)
        body: dict[str, Any] = {"replies": replies}
        if who.token is not None:
            body["token"] = who.token
        response = _json(body)
        self._remember(request, response, who)
        return response

    def _event(self, data: dict[str, Any]) -> Callable[[Sender], Event] | web.Response:
        """A function making the event from the body, or a 400 answer."""
        if "button" in data:
            token = data["button"]
            if not isinstance(token, str) or not token or len(token) > 64:
                return _error(400, "button must be a short string")
            return lambda sender: ButtonPress(sender=sender, payload=clean(token))
        if "text" in data:
            text = data["text"]
            if not isinstance(text, str):
                return _error(400, "text must be a string")
            if len(text) > MAX_TEXT:
                return _error(400, f"text too long (max {MAX_TEXT} characters)")
            return lambda sender: TextMessage(sender=sender, text=clean(text))
        if data.get("start") is True:  # the page opened with no history: greet, say nothing
            greeting = self.core.messages("web.greeting")
            return lambda sender: Opened(sender=sender, text=greeting)
        return _error(400, "give either text or button")

    async def _record(
        self, external_id: str, event: Event, replies: list[dict[str, Any]], label: str | None
    ) -> None:
        """Keep the turn for the page's history: what the user said, a button by its label
        (the one the page showed, else the one in the history)."""
        said: str | None = None
        if isinstance(event, TextMessage) and not isinstance(event, Opened):
            said = event.text
        elif isinstance(event, ButtonPress):
            said = label or _label_of(await self.core.history(external_id), event.payload)
        items = [{"from": "me", "text": said}] if said else []
        await self.core.history_add(external_id, items + [{"from": "bot", **r} for r in replies])

    async def inbox(self, request: web.Request) -> web.Response:
        """Replies pushed to this user since the last call (answers from the team, broadcasts)."""
        try:
            who = await self._who(request, issue=False)
            if isinstance(who, web.Response):
                return who
            if who is None:
                return _json({"replies": []})
            replies = await self.core.outbox_take(who.external_id)
            if replies:
                await self.core.history_add(
                    who.external_id, [{"from": "bot", **r} for r in replies]
                )
        except Exception:
            log.exception("web: inbox failed")
            return _error(503, "try again later")
        return _json({"replies": replies})

    async def history(self, request: web.Request) -> web.Response:
        """The last things said in this chat, oldest first (empty for someone new)."""
        try:
            who = await self._who(request, issue=False)
            if isinstance(who, web.Response):
                return who
            if who is None:
                return _json({"items": []})
            items = await self.core.history(who.external_id)
        except Exception:
            log.exception("web: history failed")
            return _error(503, "try again later")
        return _json({"items": items})

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Queue pushed replies until the page fetches them."""
        await self.core.outbox_put(external_id, [reply_json(r, self.core) for r in replies])


def _label_of(items: list[dict[str, Any]], token: str) -> str | None:
    """The label of the button with ``token`` among the last replies, if it is there."""
    for item in reversed(items):
        for button in item.get("buttons") or ():
            if button.get("payload") == token:
                return str(button.get("label"))
    return None
