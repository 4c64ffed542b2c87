"""The Zalo OA channel: one webhook for every OA of the app, sending through ``message/cs``.

Inbound: the raw body's ``X-ZEvent-Signature`` is checked (constant time) before anything is
parsed, else 403 and nothing is stored; Zalo gets its 200 at once and the event is handled
after, routed by the OA it was sent to (``recipient.id``). Events are de-duplicated by
``msg_id`` in the database (so across processes), the OA's own echoes (``oa_send_*``) are
dropped, ``follow`` greets, ``unfollow`` marks the citizen unreachable on that OA, and
images, stickers, audio and the like get the "I read text only" answer.

Outbound: a ``-216``/``-220`` answer (token invalid or expired) refreshes the OA's token once
(single flight across processes, ``bot/zalo_oa.py``) and resends once. A push (a team's answer,
a broadcast) to a citizen who has not written in Zalo's 7-day window is not attempted:
``NotAllowed("zalo_window")``. ``-32`` (rate) and ``-211`` (quota) become ``RetryAfter``;
``-213`` (not a follower) and ``-227`` (banned or inactive) mean ``Unreachable``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from bot.channels.base import Adapter
from bot.channels.plain import PHOTO_NAMES, links_in_text, photos_of_files
from bot.channels.zalo_oa.api import (
    QUOTA,
    RATE_LIMITED,
    TOKEN_ERRORS,
    UNREACHABLE,
    WINDOW,
    Access,
    OAApiError,
    OAClient,
    OAError,
    OANetworkError,
    signature_ok,
)
from bot.channels.zalo_oa.render import MAX_TEXT, OAMessage, fit, render
from bot.core.events import Command, Event, Sender, TextMessage, Unsupported
from bot.core.ports import (
    Capabilities,
    Core,
    DeliveryError,
    FileMissing,
    NotAllowed,
    RetryAfter,
    Transient,
    Uncertain,
    Unreachable,
)
from bot.core.replies import Reply
from bot.redaction import protect_secret

if TYPE_CHECKING:
    from bot.config import Config

log = logging.getLogger(__name__)

NAME = "zalo_oa"
OAUTH_PATH = "/zalo-oa/oauth"
SIGNATURE_HEADER = "X-ZEvent-Signature"
TIMESTAMP_HEADER = "X-ZEvent-Timestamp"
MAX_BODY = 256 * 1024
WINDOW_DAYS = 7  # Zalo: consultation messages only to citizens who interacted in 7 days
WINDOW_MARGIN = timedelta(minutes=15)  # last_seen is kept to the 10 minutes: stay inside
# (the same rule as storage.models.zalo_oa.WINDOW, which the team tools use)
RATE_PAUSE = 60.0  # seconds a lane waits after -32
QUOTA_PAUSE = 1800.0  # seconds after -211 (out of quota)
MAX_IMAGE = 1024 * 1024  # upload/image: jpg or png, at most 1 MB
SHARED = "shared:"  # an image that is a generated file (``Reply.document``), uploaded by us

# user -> OA events that carry no text we read (research Part 2.3).
KINDS = {
    "user_send_image": "image",
    "user_send_gif": "image",
    "user_send_sticker": "sticker",
    "user_send_audio": "voice",
    "user_send_video": "video",
    "user_send_file": "file",
    "user_send_location": "location",
    "user_send_link": "link",
    "user_send_business_card": "contact",
}


def address(oa_id: str, user_id: str) -> str:
    """A citizen's external id on this channel: ``<oa_id>:<user_id>`` (ids are per OA)."""
    return f"{oa_id}:{user_id}"


def split_address(external_id: str) -> tuple[str, str]:
    """(OA id, user id) of an ``address``; ValueError when it is not one."""
    oa_id, sep, user_id = external_id.partition(":")
    if not sep or not oa_id or not user_id:
        raise ValueError("not a Zalo OA address")
    return oa_id, user_id


class Accounts(Protocol):
    """What the channel needs of the OAs' records (``bot.zalo_oa.Accounts``)."""

    clock: Callable[[], datetime]

    async def access(self, oa_id: str) -> Access:
        """A valid access token of the OA."""
        ...

    async def refresh(self, oa_id: str, seen_version: int | None) -> Access:
        """A new token unless someone refreshed since ``seen_version``."""
        ...

    async def known(self, oa_id: str) -> bool:
        """Whether the OA is stored (records that an event arrived)."""
        ...

    async def last_interaction(self, external_id: str) -> datetime | None:
        """When the citizen last wrote to the OA."""
        ...

    async def image(self, oa_id: str, data: bytes) -> str | None:
        """The attachment id of an image uploaded recently."""
        ...

    async def keep_image(self, oa_id: str, data: bytes, attachment_id: str) -> None:
        """Remember an upload."""
        ...

    async def check(self) -> int:
        """The start-up check: OAs stored (raises when their tokens cannot be opened)."""
        ...

    async def finish_connect(self, state: str, code: str, oa_id: str) -> Any:
        """Complete ``trolyso zalo-oa connect``; None when the state is not valid."""
        ...


def _uploadable(replies: Sequence[Reply]) -> list[Reply]:
    """Replies whose picture file (a certificate) has no public https link: the OA uploads its
    bytes (``upload/image``) instead of sending a download line."""
    out = []
    for reply in replies:
        if reply.document and not reply.image and reply.document.lower().endswith(PHOTO_NAMES):
            reply = replace(reply, image=SHARED + reply.document, document=None)
        out.append(reply)
    return out


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int)):
        text = str(value).strip()
        return text[:64] if text and len(text) <= 64 else None
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class Inbound:
    """One webhook event read: what to do, for which OA and citizen, and its id."""

    def __init__(
        self,
        action: str,
        oa_id: str,
        user_id: str,
        event_id: str,
        event: Event | None,
        sent_at: int | None = None,
    ):
        self.action = action  # turn | unfollow
        self.oa_id = oa_id
        self.user_id = user_id
        self.event_id = event_id
        self.event = event
        self.sent_at = sent_at  # the event's time in ms (``timestamp``): one citizen's order


def _millis(value: Any) -> int | None:
    """A time in milliseconds, as Zalo writes it (a string of digits, or a number)."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def parse_event(data: dict[str, Any]) -> Inbound | None:
    """Read a webhook body; None for what the bot does not answer (echoes, receipts...)."""
    name = data.get("event_name")
    if not isinstance(name, str) or name.startswith("oa_send_") or name.startswith("user_seen"):
        return None
    if name in ("follow", "unfollow"):
        oa_id = _id(data.get("oa_id")) or _id(_mapping(data.get("recipient")).get("id"))
        user_id = _id(_mapping(data.get("follower")).get("id")) or _id(
            _mapping(data.get("sender")).get("id")
        )
    elif name.startswith("user_send_"):
        oa_id = _id(_mapping(data.get("recipient")).get("id"))
        user_id = _id(_mapping(data.get("sender")).get("id"))
    else:
        return None
    if oa_id is None or user_id is None:
        return None
    message = _mapping(data.get("message"))
    stamp = _id(data.get("timestamp")) or ""
    event_id = _id(message.get("msg_id")) or f"{name}:{user_id}:{stamp}"
    sender = Sender(channel=NAME, external_id=address(oa_id, user_id))
    if name == "unfollow":
        return Inbound("unfollow", oa_id, user_id, event_id, None)
    event: Event
    if name == "follow":
        event = Command(sender=sender, name="start")
    elif name in KINDS:
        event = Unsupported(sender=sender, kind=KINDS[name])
    else:
        text = message.get("text")
        if name != "user_send_text" or not isinstance(text, str):
            event = Unsupported(sender=sender, kind=name.removeprefix("user_send_")[:32])
        else:
            event = TextMessage(sender=sender, text=text)
    return Inbound("turn", oa_id, user_id, event_id, event, _millis(data.get("timestamp")))


class ZaloOAChannel(Adapter):
    """Every Official Account of the app, as one channel (``users.channel`` = ``zalo_oa``)."""

    name = NAME
    retry_rate_limits = False  # -32/-211 hold the OA's lane; no waiting inside a turn
    # Taps on the button template come back as typed text: the core maps "1" or the label.
    capabilities = Capabilities(buttons=False, images=True, max_text=MAX_TEXT, markup="plain")

    def __init__(
        self,
        core: Core,
        accounts: Accounts,
        client: OAClient,
        *,
        secret_keys: Sequence[str],
        webhook_path: str = "/zalo-oa/webhook",
        rate_per_second: float = 5.0,
        rate_pause: float = RATE_PAUSE,
        quota_pause: float = QUOTA_PAUSE,
    ) -> None:
        super().__init__(core)
        self.accounts = accounts
        self.client = client
        self.app_id = client.app_id
        self.secret_keys = tuple(k for k in secret_keys if k)
        for key in self.secret_keys:
            protect_secret(key)
        self.webhook_path = webhook_path.rstrip("/") or "/zalo-oa/webhook"
        self.rate_per_second = rate_per_second
        self.rate_pause = rate_pause
        self.quota_pause = quota_pause
        self.window = timedelta(days=WINDOW_DAYS) - WINDOW_MARGIN
        self.stats = {"handled": 0, "duplicates": 0, "refused": 0, "errors": 0}
        self._no_template: set[str] = set()  # OAs that refused the button template

    @classmethod
    def from_config(cls, core: Core, config: Config, accounts: Accounts) -> ZaloOAChannel:
        """The channel as ``config.yaml`` and the environment describe it."""
        secrets = config.secrets
        client = getattr(accounts, "client", None)
        if not isinstance(client, OAClient):
            raise TypeError("accounts without a client")
        return cls(
            core,
            accounts,
            client,
            secret_keys=(secrets.zalo_oa_secret_key, secrets.zalo_oa_app_secret),
            webhook_path=config.zalo_oa.webhook_path,
            rate_per_second=config.zalo_oa.rate_per_second,
        )

    # --- life cycle -----------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """The webhook and the OAuth callback, on the shared server."""
        return [web.post(self.webhook_path, self.webhook), web.get(OAUTH_PATH, self.oauth)]

    async def start(self) -> None:
        """Check that the stored OAs' tokens can be opened: a clear start-up error if not."""
        try:
            count = await self.accounts.check()
        except OAError as exc:
            raise SystemExit(f"Zalo OA: {exc}") from None
        if count:
            log.info("zalo_oa: %d Official Account(s); webhook at %s", count, self.webhook_path)
        else:
            log.warning(
                "zalo_oa: no Official Account is stored yet: run `trolyso zalo-oa connect` "
                "(or `trolyso zalo-oa add`); events arrive at %s",
                self.webhook_path,
            )

    async def stop(self) -> None:
        """Let events in hand finish (briefly), then close the client."""
        await self.settle(10)
        await self.client.close()

    async def idle(self) -> None:
        """Wait until every event in hand is handled (tests, graceful shutdown)."""
        await self.settle()

    def lane(self, external_id: str) -> tuple[str, float] | None:
        """The broadcast lane of a citizen: their OA, at ``zalo_oa.rate_per_second``."""
        try:
            oa_id, _ = split_address(external_id)
        except ValueError:
            return None
        return f"{NAME}:{oa_id}", self.rate_per_second

    # --- inbound --------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """Check the signature on the raw body, answer 200 at once, handle the event after."""
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return web.json_response({"error": "too large"}, status=413)
        if not signature_ok(
            request.headers.get(SIGNATURE_HEADER, ""),
            self.app_id,
            raw,
            self.secret_keys,
            request.headers.get(TIMESTAMP_HEADER, ""),
        ):
            self.stats["refused"] += 1
            log.warning("zalo_oa: a webhook request with a wrong or missing signature was refused")
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            return web.json_response({"error": "bad request"}, status=400)
        app_id = _id(data.get("app_id"))
        if app_id is not None and app_id != self.app_id:
            log.info("zalo_oa: an event for another app was ignored")
            return web.json_response({"ok": True})
        self.spawn(self._process(data))
        return web.json_response({"ok": True})

    async def _process(self, data: dict[str, Any]) -> None:
        try:
            inbound = parse_event(data)
            if inbound is None:
                return
            if not await self.accounts.known(inbound.oa_id):
                log.info("zalo_oa: an event for an OA that is not stored was ignored")
                return
            external = address(inbound.oa_id, inbound.user_id)
            event_id = f"{inbound.oa_id}:{inbound.event_id}"[:128]
            if inbound.action == "unfollow":
                if await self.core.first_time(self.name, event_id):
                    await self.unreachable(external)
                    log.info("zalo_oa: a citizen unfollowed an OA; pushes to them stop")
                return
            assert inbound.event is not None
            await self.turn(inbound.event, once=event_id, seq=inbound.sent_at)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.stats["errors"] += 1
            log.exception("zalo_oa: an event could not be handled")
        finally:
            self.stats["handled"] += 1

    # --- OAuth callback -------------------------------------------------------------------

    async def oauth(self, request: web.Request) -> web.Response:
        """``GET /zalo-oa/oauth?code=…&oa_id=…&state=…``: complete ``trolyso zalo-oa connect``."""
        messages = self.core.messages
        code = request.query.get("code", "")
        state = request.query.get("state", "")
        oa_id = _id(request.query.get("oa_id")) or ""
        if not code or not state or not oa_id or len(code) > 2048 or len(state) > 64:
            return _page(messages("zalo_oa.oauth_bad"), status=400)
        try:
            connected = await self.accounts.finish_connect(state, code, oa_id)
        except OAError as exc:
            log.warning("zalo_oa: the permission code could not be exchanged (%s)", exc)
            return _page(messages("zalo_oa.oauth_failed"), status=502)
        if connected is None:
            return _page(messages("zalo_oa.oauth_expired"), status=400)
        oa_id = getattr(connected, "oa_id", "") or oa_id
        log.info("zalo_oa: OA %s connected", oa_id)
        name = getattr(connected, "name", "") or oa_id
        return _page(messages("zalo_oa.oauth_done", name=name, oa_id=oa_id))

    # --- outbound -------------------------------------------------------------------------

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Push replies outside the citizen's turn, only inside Zalo's 7-day window."""
        last = await self.accounts.last_interaction(external_id)
        if last is None or self.accounts.clock() - last > self.window:
            raise NotAllowed("zalo_window", "the citizen has not written to the OA in 7 days")
        await self.deliver(external_id, replies)

    async def deliver(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Send one turn's replies in order. Raises the delivery errors."""
        try:
            oa_id, user_id = split_address(external_id)
        except ValueError:
            raise Unreachable("not a Zalo OA address") from None
        messages = self.core.messages
        replies = links_in_text(
            _uploadable(photos_of_files(replies, self.core)), self.core, messages
        )
        for item in render(replies, messages, template=oa_id not in self._no_template):
            try:
                await self._show(oa_id, user_id, item)
            except Exception as exc:
                error = self.delivery_error(exc)
                if error is None:
                    raise
                raise error from exc

    def delivery_error(self, exc: Exception) -> DeliveryError | None:
        """What a platform failure means for the sender."""
        if isinstance(exc, DeliveryError):
            return exc
        if isinstance(exc, OAApiError):
            if exc.code == RATE_LIMITED:
                return RetryAfter(self.rate_pause)
            if exc.code == QUOTA:
                return RetryAfter(self.quota_pause)
            if exc.code in UNREACHABLE:
                return Unreachable(str(exc))
            if exc.code in WINDOW:
                return NotAllowed("zalo_window", str(exc))
            return DeliveryError(str(exc))
        if isinstance(exc, OANetworkError):
            return Uncertain(str(exc)) if exc.sent else Transient(str(exc))
        if isinstance(exc, (OAError, LookupError)):  # token refused, OA removed meanwhile
            return DeliveryError(str(exc))
        return None

    async def _show(self, oa_id: str, user_id: str, item: OAMessage) -> None:
        """One message; a refused template or image falls back to its text."""
        if item.image is not None:
            try:
                await self._image(oa_id, user_id, item)
                return
            except OAApiError as exc:
                if exc.code in (RATE_LIMITED, QUOTA, *UNREACHABLE, *WINDOW, *TOKEN_ERRORS):
                    raise
                log.info("zalo_oa: an image was refused (%s); sending its text", exc)
                fallback = item.fallback
                if item.image.startswith(SHARED):  # a generated picture: its download link
                    url = self.core.file_link(item.image.removeprefix(SHARED))
                    link = self.core.messages("files.link", url=url)
                    fallback = f"{fallback}\n\n{link}" if fallback else link
                for part in fit(fallback):
                    await self._call(oa_id, user_id, {"text": part})
                return
        if not item.buttons:
            if item.text:
                await self._call(oa_id, user_id, {"text": item.text})
            return
        try:
            await self._call(oa_id, user_id, item.body())
        except OAApiError as exc:
            if exc.code in (RATE_LIMITED, QUOTA, *UNREACHABLE, *WINDOW, *TOKEN_ERRORS):
                raise
            log.info("zalo_oa: OA %s refused the button template (%s); numbered lines", oa_id, exc)
            self._no_template.add(oa_id)
            for part in fit(item.fallback):
                await self._call(oa_id, user_id, {"text": part})

    async def _image(self, oa_id: str, user_id: str, item: OAMessage) -> None:
        image = item.image or ""
        element: dict[str, str]
        if image.startswith("https://"):
            element = {"media_type": "image", "url": image}
        elif image.startswith("http://"):
            raise OAApiError("image", -1, "not https")
        elif image.startswith(SHARED):  # a generated picture (a certificate): its bytes
            try:
                shared = await self.core.file(image.removeprefix(SHARED))
            except FileMissing:
                shared = None
            if shared is None or len(shared.data) > MAX_IMAGE:
                raise OAApiError("image", -1, "no such file, or too large")
            attachment = await self._upload(oa_id, shared.data, shared.name, shared.content_type)
            element = {"media_type": "image", "attachment_id": attachment}
        else:
            path = self.core.content_file(image)
            if path is None or path.stat().st_size > MAX_IMAGE:
                raise OAApiError("image", -1, "no such image, or too large")
            kind = mimetypes.guess_type(path.name)[0] or "image/png"
            attachment = await self._upload(oa_id, path.read_bytes(), path.name, kind)
            element = {"media_type": "image", "attachment_id": attachment}
        message: dict[str, Any] = {
            "attachment": {
                "type": "template",
                "payload": {"template_type": "media", "elements": [element]},
            }
        }
        if item.text:
            message["text"] = item.text
        await self._call(oa_id, user_id, message)

    async def _upload(self, oa_id: str, data: bytes, name: str, kind: str) -> str:
        """The ``attachment_id`` of these bytes on this OA: a recent upload, else a new one."""
        attachment = await self.accounts.image(oa_id, data)
        if attachment is None:
            token = await self.accounts.access(oa_id)
            attachment = await self.client.upload_image(token.token, data, name, kind)
            await self.accounts.keep_image(oa_id, data, attachment)
        return attachment

    async def _call(self, oa_id: str, user_id: str, message: dict[str, Any]) -> Any:
        """``message/cs``; a rejected token is refreshed once and the message resent once."""
        token = await self.accounts.access(oa_id)
        try:
            return await self._unsent_retried(token, user_id, message)
        except OAApiError as exc:
            if exc.code not in TOKEN_ERRORS:
                raise
            log.info("zalo_oa: OA %s token refused (%s); refreshing once", oa_id, exc.code)
        token = await self.accounts.refresh(oa_id, token.version)
        return await self._unsent_retried(token, user_id, message)

    async def _unsent_retried(self, token: Access, user_id: str, message: dict[str, Any]) -> Any:
        """A call retried (with the adapter's pauses) only while it surely never left."""
        failures = 0
        while True:
            try:
                return await self.client.send(token.token, message, user_id)
            except OANetworkError as exc:
                failures += 1
                if exc.sent or failures >= self.retry.attempts:
                    raise
                await asyncio.sleep(self.retry.pause(failures))


def _page(text: str, *, status: int = 200) -> web.Response:
    """A tiny HTML page for the admin's browser after the OAuth redirect."""
    import html

    body = (
        '<!doctype html><html lang="vi"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Zalo OA</title>"
        f'<p style="font:18px sans-serif;margin:2em">{html.escape(text)}</p>'
    )
    return web.Response(text=body, status=status, content_type="text/html")
