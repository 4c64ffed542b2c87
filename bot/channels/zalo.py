"""Zalo Bot Platform channel: our own small aiohttp client, long polling or a webhook.

The Bot Platform is a Telegram-like HTTP API (``{base}/bot{token}/{method}``, POST JSON, an
``{ok, result}`` envelope) without buttons, so replies are rendered as plain text: buttons
become a numbered list, answer choices are lettered, and the dispatcher maps "1", "A" or the
label typed back to the button. See docs in README.md ("Zalo") and the platform notes in the
project's research (408 = idle long poll, one update per getUpdates, ids are strings, dates in
milliseconds, text 1-2,000 characters).

The HTTP client is ``bot.channels.zalo_client``; turns, retries and the error policy come from
``bot.channels.base.Adapter``. The token is part of every URL, so no URL is ever logged: errors
name the method only, and a redacting log filter removes the token (both halves, and any
``/bot<token>/`` path) from log records as a second line of defence.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from aiohttp import web

from bot.channels.base import Adapter, Backoff
from bot.channels.plain import ATTACHED, links_in_text, photos_of_files, render_plain, split_text
from bot.channels.zalo_client import (
    ZaloApiError,
    ZaloClient,
    ZaloError,
    ZaloIdle,
    ZaloNetworkError,
    ZaloRateLimited,
    ZaloUnauthorized,
)
from bot.core.events import Event, Sender, TextMessage, Unsupported
from bot.core.ports import (
    Capabilities,
    Core,
    DeliveryError,
    RetryAfter,
    Transient,
    Uncertain,
    Unreachable,
)
from bot.core.replies import Reply
from bot.redaction import protect_secret, protect_token

if TYPE_CHECKING:
    from bot.config import Config
    from bot.content.messages import Messages

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # sendMessage text and sendPhoto caption: 1-2,000 characters
MAX_BODY = 1024 * 1024  # one event per webhook request: small; more is refused
SECRET_HEADER = "X-Bot-Api-Secret-Token"
DEFAULT_WEBHOOK_PATH = "/zalo/webhook"
POLL_MARGIN = 10.0  # the client waits this much longer than the long poll itself

# Event names seen in the docs (text, image, sticker, voice, unsupported) and in client code
# (link, reaction). Anything else starting with "message." is read as text when it has text.
KINDS = {
    "message.image.received": "image",
    "message.sticker.received": "sticker",
    "message.voice.received": "voice",
    "message.unsupported.received": "unsupported",
}
IGNORED = frozenset({"message.reaction.received"})


# --- inbound updates ----------------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    """One update read: the core event, the chat to answer in and the message id."""

    event: Event
    chat_id: str
    message_id: str | None
    sent_at: int | None = None  # the message's ``date`` in ms: one chat's order


def _id(value: Any) -> str | None:
    """Ids are strings on Zalo; accept numbers too, refuse anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int)):
        text = str(value).strip()
        return text[:128] if text else None
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def unwrap(data: Any) -> Any:
    """The update itself, whether the body is wrapped in ``{ok, result}`` or bare."""
    if isinstance(data, dict) and "event_name" not in data and isinstance(data.get("result"), dict):
        return data["result"]
    return data


def parse_update(data: Any, channel: str = "zalo") -> Inbound | None:
    """Read one update (wrapped or bare); None for anything we do not answer."""
    update = unwrap(data)
    if not isinstance(update, dict):
        return None
    name = update.get("event_name")
    message = update.get("message")
    if not isinstance(name, str) or not isinstance(message, dict) or name in IGNORED:
        return None
    if not name.startswith("message."):
        return None
    person = _mapping(message.get("from"))
    chat = _mapping(message.get("chat"))
    if person.get("is_bot") is True:
        return None
    chat_type = chat.get("chat_type")
    if isinstance(chat_type, str) and chat_type.upper() != "PRIVATE":
        return None  # groups are in beta; the bot serves one citizen per private chat
    chat_id = _id(chat.get("id")) or _id(person.get("id"))
    if chat_id is None:
        return None
    display = person.get("display_name") or person.get("first_name")
    name_text = display.strip()[:128] if isinstance(display, str) else ""
    sender = Sender(channel=channel, external_id=chat_id, display_name=name_text or None)
    event: Event
    text = message.get("text")
    if name in KINDS:
        event = Unsupported(sender=sender, kind=KINDS[name])
    elif isinstance(text, str):
        event = TextMessage(sender=sender, text=text)
    else:
        kind = name.split(".")[1] if name.count(".") >= 2 else "unsupported"
        event = Unsupported(sender=sender, kind=kind[:32])
    date = message.get("date")
    sent_at = date if isinstance(date, int) and not isinstance(date, bool) else None
    if isinstance(date, str) and date.isdigit():
        sent_at = int(date)
    return Inbound(
        event=event, chat_id=chat_id, message_id=_id(message.get("message_id")), sent_at=sent_at
    )


# --- outbound rendering -------------------------------------------------------------------

_MARK = ATTACHED
_IMAGE_MARK = re.compile(_MARK + r"(\d+)" + _MARK)


@dataclass(frozen=True)
class Outgoing:
    """One API call that shows part of a turn."""

    method: str  # sendMessage | sendPhoto
    text: str  # text or caption (may be empty for a photo)
    photo: str | None = None

    def payload(self, chat_id: str) -> dict[str, Any]:
        """The JSON body for ``chat_id``."""
        if self.photo is None:
            return {"chat_id": chat_id, "text": self.text}
        body: dict[str, Any] = {"chat_id": chat_id, "photo": self.photo}
        if self.text:
            body["caption"] = self.text
        return body


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fit(text: str) -> list[str]:
    """NFC, and below the limit however the platform counts (code points or UTF-16 units)."""
    text = unicodedata.normalize("NFC", text)
    if _utf16_len(text) <= MAX_TEXT:
        return [text]
    return [part for half in split_text(text, MAX_TEXT // 2) for part in fit(half)]


def render(replies: Sequence[Reply], messages: Messages) -> list[Outgoing]:
    """A turn as Zalo calls: numbered text (``render_plain``), photos for public https images.

    An image that is not a public https URL becomes a line with its address, or is left out
    when it is a file of the content folder (the caption still comes).
    """
    images: list[str] = []

    def image_text(image: str) -> str:
        if image.startswith("https://"):
            images.append(image)
            return f"{_MARK}{len(images) - 1}{_MARK}"
        if image.startswith("http://"):
            return messages("channel.image", url=image)
        return ""

    out: list[Outgoing] = []
    for chunk in render_plain(replies, messages, MAX_TEXT, image_text):
        match = _IMAGE_MARK.search(chunk)  # a turn's texts share a message with its image
        if match is None:
            out.extend(Outgoing("sendMessage", part) for part in fit(chunk) if part.strip())
            continue
        photo = images[int(match.group(1))]
        caption = re.sub(r"\n{3,}", "\n\n", _IMAGE_MARK.sub("", chunk)).strip()
        parts = fit(caption) if caption else [""]
        out.append(Outgoing("sendPhoto", parts[0], photo=photo))
        out.extend(Outgoing("sendMessage", part) for part in parts[1:] if part.strip())
    return out


# --- the channel --------------------------------------------------------------------------

_UNREACHABLE = re.compile(
    r"block|unfollow|(user|chat|recipient).{0,20}(not.{0,10}(found|exist)|invalid)", re.I
)


class TokenRefused(DeliveryError):
    """401: the channel is stopped until the token is fixed and the bot restarted."""


class ZaloChannel(Adapter):
    """The bot on the Zalo Bot Platform: text only, long polling or webhook."""

    name = "zalo"
    capabilities = Capabilities(buttons=False, images=True, max_text=MAX_TEXT, markup="plain")

    def __init__(
        self,
        core: Core,
        *,
        base_url: str,
        token: str,
        webhook_url: str = "",
        webhook_secret: str = "",
        poll_timeout: int = 30,
        retry: Backoff | None = None,
        typing_after: float | None = 1.0,
        push_retry_after: float = 30.0,
    ) -> None:
        super().__init__(core, retry=retry or Backoff((0.5, 1.5, 4.0), cap=60.0))
        if not token:
            raise ValueError("the Zalo channel needs ZALO_BOT_TOKEN")
        if webhook_url and not 8 <= len(webhook_secret) <= 256:
            from bot.config import ConfigError

            raise ConfigError(
                "config: zalo.webhook_url needs ZALO_WEBHOOK_SECRET (8 to 256 characters)"
            )
        self.client = ZaloClient(base_url, token)
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.webhook_path = urlparse(webhook_url).path.rstrip("/") or DEFAULT_WEBHOOK_PATH
        self.poll_timeout = poll_timeout
        self.typing_after = typing_after
        self.push_retry_after = push_retry_after
        self.disabled = False  # set after a 401: the token is refused
        self.account: dict[str, Any] = {}
        protect_token(token)
        protect_secret(webhook_secret)
        self._runner: asyncio.Task[None] | None = None

    @classmethod
    def from_config(cls, core: Core, config: Config) -> ZaloChannel:
        """The channel as ``config.yaml`` and the environment describe it."""
        return cls(
            core,
            base_url=config.zalo.base_url,
            token=config.secrets.zalo_token,
            webhook_url=config.zalo.webhook_url,
            webhook_secret=config.secrets.zalo_webhook_secret,
            poll_timeout=config.zalo.poll_timeout,
        )

    @property
    def mode(self) -> str:
        """``webhook`` when a public webhook URL is configured, else ``polling``."""
        return "webhook" if self.webhook_url else "polling"

    # --- life cycle -----------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """The webhook route on the shared server (webhook mode only)."""
        if self.mode != "webhook":
            return []
        return [web.post(self.webhook_path, self.webhook)]

    async def start(self) -> None:
        """In the background: check the token (getMe), then set the webhook or start polling."""
        self.disabled = False
        self._runner = asyncio.create_task(self._run(), name="zalo")

    async def stop(self) -> None:
        """Stop polling, let the updates in hand finish (briefly), close the client."""
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        await self.settle(within=10)
        await self.client.close()

    async def _run(self) -> None:
        try:
            me = await self._setup_call("getMe", {})
            self.account = me if isinstance(me, dict) else {}
            log.info(
                "zalo: connected as %s (%s mode)",
                self.account.get("account_name", "?"),
                self.mode,
            )
            if self.mode == "webhook":
                await self._setup_call(
                    "setWebhook", {"url": self.webhook_url, "secret_token": self.webhook_secret}
                )
                log.info("zalo: webhook set; updates arrive at %s", self.webhook_path)
                return
            with contextlib.suppress(ZaloApiError):
                await self._setup_call("deleteWebhook", {})
            await self._poll()
        except ZaloUnauthorized:
            self._unauthorized()
        except ZaloApiError as exc:
            log.error("zalo: the channel could not start: %s", exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("zalo: the channel stopped after an unexpected error")

    async def _setup_call(self, method: str, payload: dict[str, Any]) -> Any:
        """A start-up call, retried with growing pauses while the network or the API fails."""
        failures = 0
        while True:
            try:
                return await self.client.call(method, payload)
            except ZaloNetworkError as exc:
                error: ZaloError = exc
            except ZaloApiError as exc:
                if not exc.retryable:
                    raise
                error = exc
            failures += 1
            delay = self.retry.pause(failures)
            log.warning("zalo: %s failed (%s); trying again in %.1fs", method, error, delay)
            await asyncio.sleep(delay)

    def _unauthorized(self) -> None:
        """Stop this channel for good (until restarted) with one clear line; nothing else stops."""
        if self.disabled:
            return
        self.disabled = True
        log.error(
            "zalo: the bot token was refused (401 Unauthorized); the Zalo channel is stopped, "
            "the rest of the bot keeps running. Check ZALO_BOT_TOKEN (it changes when the token "
            "is reset in Zalo Bot Creator) and restart."
        )
        current = asyncio.current_task()
        if self._runner is not None and self._runner is not current:
            self._runner.cancel()

    async def _poll(self) -> None:
        """Long polling: one update per getUpdates; 408 means nothing arrived."""
        failures = 0
        wait = self.poll_timeout + POLL_MARGIN
        while not self.disabled:
            try:
                result = await self.client.call(
                    "getUpdates", {"timeout": str(self.poll_timeout)}, wait=wait
                )
            except ZaloIdle:
                failures = 0
                continue
            except ZaloUnauthorized:
                raise
            except ZaloError as exc:
                failures += 1
                delay = self.retry.pause(failures)
                log.warning("zalo: getUpdates failed (%s); polling again in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            updates = result if isinstance(result, list) else [result]
            for update in updates:
                if update:
                    self._take(update)

    # --- webhook --------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """Check the secret header in constant time, answer at once, handle the update after."""
        given = request.headers.get(SECRET_HEADER, "")
        expected = self.webhook_secret
        if not expected or not hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), expected.encode("utf-8")
        ):
            return web.json_response({"ok": False, "description": "Forbidden"}, status=403)
        try:
            raw = await request.content.read(MAX_BODY + 1)
            data = json.loads(raw.decode("utf-8")) if len(raw) <= MAX_BODY else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            data = None
        except Exception:
            return web.json_response({"ok": False, "description": "Bad request"}, status=400)
        if not isinstance(data, dict):
            return web.json_response({"ok": False, "description": "Bad request"}, status=400)
        if not self.disabled:
            self._take(data)
        return web.json_response({"ok": True})

    # --- handling -------------------------------------------------------------------------

    def _take(self, update: Any) -> None:
        """Read an update and handle it in the background; one chat's keep their order."""
        try:
            inbound = parse_update(update, self.name)
        except Exception:
            log.warning("zalo: an update could not be read; skipped")
            return
        if inbound is None:
            return
        # The duplicate check keys on the chat and the message id: ids are unique per chat.
        once = f"{inbound.chat_id}:{inbound.message_id}" if inbound.message_id else None
        self.spawn(self._turn(inbound.event, once, inbound.sent_at))

    async def _turn(self, event: Event, once: str | None, seq: int | None = None) -> None:
        typing = None
        if self.typing_after is not None:
            typing = asyncio.create_task(self._typing(event.sender.external_id, self.typing_after))
        try:
            await self.turn(event, once=once, seq=seq)
        finally:
            if typing is not None:
                typing.cancel()
                await asyncio.gather(typing, return_exceptions=True)

    async def _typing(self, chat_id: str, delay: float) -> None:
        """Show "typing..." when the reply takes longer than ``delay``, and keep it up."""
        await asyncio.sleep(delay)
        while not self.disabled:
            with contextlib.suppress(ZaloError):
                await self.client.call("sendChatAction", {"chat_id": chat_id, "action": "typing"})
            await asyncio.sleep(4.0)

    # --- outbound -------------------------------------------------------------------------

    async def deliver(self, address: str, replies: Sequence[Reply]) -> None:
        """Send a turn in order; a refused photo falls back to text with its address."""
        messages = self.core.messages
        replies = links_in_text(photos_of_files(replies, self.core), self.core, messages)
        for item in render(replies, messages):
            if item.photo is None:
                await self._call(item.method, item.payload(address))
                continue
            try:
                await self._call(item.method, item.payload(address))
            except DeliveryError as exc:
                if type(exc) is not DeliveryError:  # not a plain refusal of the photo
                    raise
                log.info("zalo: a photo was refused (%s); sending its address instead", exc)
                text = messages("channel.image", url=item.photo)
                if item.text:
                    text = f"{text}\n\n{item.text}"
                for part in fit(text):
                    await self._call("sendMessage", {"chat_id": address, "text": part})

    async def _call(self, method: str, payload: dict[str, Any]) -> Any:
        if self.disabled:
            raise TokenRefused("the Zalo channel is stopped (token refused)")
        return await self.call(lambda: self.client.call(method, payload), method)

    def delivery_error(self, exc: Exception) -> DeliveryError | None:
        """Zalo's errors as delivery errors (a 401 also stops the channel)."""
        if isinstance(exc, ZaloUnauthorized):
            self._unauthorized()
            return TokenRefused("the Zalo channel is stopped (token refused)")
        if isinstance(exc, ZaloRateLimited):
            return RetryAfter(self.push_retry_after)
        if isinstance(exc, ZaloApiError):
            if exc.retryable:
                return Uncertain(str(exc)) if exc.taken else Transient(str(exc))
            if _UNREACHABLE.search(exc.description):
                return Unreachable(str(exc))
            return DeliveryError(str(exc))
        if isinstance(exc, ZaloNetworkError):
            return Uncertain(str(exc)) if exc.sent else Transient(str(exc))
        return None
