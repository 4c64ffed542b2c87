"""Telegram through python-telegram-bot (PTB): PTB is the transport, our core does the talking.

Updates become core events: text (commands and ``/start <code>`` deep links included: the core
parses "/cmd arg"), inline button presses (``callback_data`` is the core's short token, so a
forged one is just a stale button), and everything else (stickers, photos, voice...) as
``Unsupported``. Replies become Telegram calls: HTML text split below 4,096 characters, one
inline button per row, ``sendPhoto`` for images.

Modes: long polling when ``telegram.webhook_url`` is empty; otherwise a webhook on our aiohttp
server at ``/telegram/<secret path segment>``, where the ``X-Telegram-Bot-Api-Secret-Token``
header is checked in constant time. ``telegram.base_url`` points PTB at another Bot API server.

Bot API calls travel over aiohttp (``bot.channels.telegram_http``) rather than PTB's default
httpx: the same calls for a fraction of the CPU.

Platform errors: PTB's ``AIORateLimiter`` paces sends and retries after 429; network errors are
retried with backoff; a user who blocked the bot (403) is marked unreachable; nothing escapes
into PTB's loop. Updates of one user are handled in order, different users concurrently.
The bot token is redacted from every log record (``bot.redaction.protect_secret``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

# Opt in to PTB's timedelta durations now: without it, merely building a RetryAfter (a 429
# answer) issues a deprecation warning in PTB 22.x.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from aiohttp import web
from telegram import (
    BotCommand,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram import error as tg
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.channels.base import Channel, split_text, to_html
from bot.channels.telegram_http import AiohttpRequest
from bot.config import ConfigError
from bot.core.events import (
    ButtonPress,
    Event,
    Sender,
    TextMessage,
    Unsupported,
)
from bot.core.locks import KeyedLocks
from bot.core.ports import Capabilities, Core, DeliveryError, RetryAfter, Unreachable
from bot.core.replies import Reply
from bot.redaction import protect_secret

if TYPE_CHECKING:
    from bot.config import Config

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
# The update types we handle; also what setWebhook and getUpdates ask for.
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
COMMANDS_PREFIX = "telegram.commands."
# Message kinds we cannot read, in the order they are checked; the first present names it.
UNSUPPORTED_KINDS = (
    "sticker",
    "photo",
    "voice",
    "video_note",
    "video",
    "audio",
    "animation",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
)

# Updates handled at once (different users; one user's stay in order). The core commits the turns
# in hand together (bot/core/dispatcher.py), so more at once means bigger batches, not more
# writers on the database.
CONCURRENCY = 64

CAPABILITIES = Capabilities(buttons=True, images=True, max_text=MAX_TEXT, markup="html")

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


# ---- rendering ---------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def html_chunks(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` as Telegram HTML messages, each within ``limit`` once escaped."""
    return [chunk for part in split_text(text, limit) for chunk in _fit(part, limit)]


def _fit(text: str, limit: int) -> list[str]:
    """Escaping (``&amp;``...) or wide characters can push a piece over: split it finer."""
    rendered = to_html(text)
    if utf16_len(rendered) <= limit or len(text) <= 64:
        return [rendered]
    return [c for part in split_text(text, max(64, len(text) // 2)) for c in _fit(part, limit)]


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """One inline button per row (big targets for elderly users); None without buttons."""
    rows = []
    for button in reply.buttons:
        if not 1 <= len(button.payload.encode()) <= MAX_CALLBACK_DATA:
            log.error("button token of %d bytes cannot be sent", len(button.payload.encode()))
            continue
        rows.append([InlineKeyboardButton(button.label, callback_data=button.payload)])
    return InlineKeyboardMarkup(rows) if rows else None


@dataclass(frozen=True)
class Outgoing:
    """One Telegram call: a text message, or a photo with an optional caption."""

    text: str = ""
    photo: str | Path | None = None
    markup: InlineKeyboardMarkup | None = None


def render(reply: Reply, image: str | Path | None, buttons_only: str) -> list[Outgoing]:
    """A reply as Telegram calls; the keyboard goes on the last one."""
    markup = keyboard(reply)
    chunks = html_chunks(reply.text) if reply.text.strip() else []
    out: list[Outgoing] = []
    if image is not None:
        if len(chunks) == 1 and utf16_len(chunks[0]) <= MAX_CAPTION:
            return [Outgoing(text=chunks[0], photo=image, markup=markup)]
        out.append(Outgoing(photo=image, markup=None if chunks else markup))
    if not chunks and markup is not None and image is None:
        chunks = [to_html(buttons_only)]
    out.extend(Outgoing(text=chunk) for chunk in chunks)
    if out and markup is not None and out[-1].markup is None and out[-1].text:
        out[-1] = Outgoing(text=out[-1].text, photo=out[-1].photo, markup=markup)
    return out


def event_of(update: Update, channel: str = "telegram") -> Event | None:
    """The core event for a private-chat update; None for anything we do not handle."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or chat.type != "private" or user.is_bot:
        return None
    sender = Sender(channel=channel, external_id=str(user.id), display_name=user.full_name or None)
    query = update.callback_query
    if query is not None:
        return ButtonPress(sender=sender, payload=(query.data or "")[:MAX_CALLBACK_DATA])
    message = update.message
    if message is None:
        return None
    if message.text is not None:
        return TextMessage(sender=sender, text=message.text)
    return Unsupported(sender=sender, kind=_kind(message))


def _kind(message: Message) -> str:
    for kind in UNSUPPORTED_KINDS:
        if getattr(message, kind, None):
            return kind
    return "other"


def webhook_path_segment(token: str, secret: str) -> str:
    """The secret part of the webhook path: stable across restarts, reveals neither secret."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()[:32]


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# ---- the channel -------------------------------------------------------------------------------


class TelegramChannel(Channel):
    """The Telegram adapter. Build it with :meth:`from_config`."""

    name = "telegram"
    capabilities = CAPABILITIES

    def __init__(
        self,
        core: Core,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        webhook_url: str = "",
        webhook_secret: str = "",
        concurrency: int = CONCURRENCY,
        max_rate: float = 30.0,
        rate_retries: int = 3,
        backoff: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
        poll_timeout: float = 10.0,
    ) -> None:
        super().__init__(core)
        if not token:
            raise ConfigError("telegram: TELEGRAM_BOT_TOKEN is empty")
        protect_secret(token)
        self.token = token
        self.webhook_url = webhook_url.rstrip("/")
        self.webhook_secret = webhook_secret
        if self.webhook_url:
            if not webhook_secret:
                raise ConfigError(
                    "telegram: set TELEGRAM_WEBHOOK_SECRET when telegram.webhook_url is set"
                )
            if not SECRET_FORMAT.match(webhook_secret):
                raise ConfigError(
                    "telegram: TELEGRAM_WEBHOOK_SECRET may only use A-Z, a-z, 0-9, _ and - "
                    "(1 to 256 characters)"
                )
            protect_secret(webhook_secret)
        self.backoff = tuple(backoff) or (1.0,)
        self.poll_timeout = poll_timeout
        # Ours to close too: when start-up never succeeded, PTB's shutdown leaves them open.
        self._requests = (AiohttpRequest(), AiohttpRequest(1))
        builder = (
            Application.builder()
            .token(token)
            .base_url(base_url)
            .concurrent_updates(concurrency)
            .request(self._requests[0])
            .get_updates_request(self._requests[1])
            .rate_limiter(AIORateLimiter(overall_max_rate=max_rate, max_retries=rate_retries))
        )
        if base_url.endswith("/bot"):
            builder = builder.base_file_url(base_url[: -len("/bot")] + "/file/bot")
        if self.webhook_url:
            builder = builder.updater(None)
        self.application: AnyApplication = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_order = KeyedLocks()  # one user's updates one at a time, in arrival order
        self._commands: list[tuple[str, str]] | None = None
        self._photo_ids: dict[Path, str] = {}
        self._stop_listening: Callable[[], None] = lambda: None

    @classmethod
    def from_config(cls, core: Core, config: Config) -> TelegramChannel:
        """The channel as ``config.yaml`` and the environment describe it."""
        return cls(
            core,
            config.secrets.telegram_token,
            base_url=config.telegram.base_url,
            webhook_url=config.telegram.webhook_url,
            webhook_secret=config.secrets.telegram_webhook_secret,
        )

    @property
    def mode(self) -> str:
        """``webhook`` or ``polling``."""
        return "webhook" if self.webhook_url else "polling"

    @property
    def webhook_path(self) -> str:
        """The path of our webhook route (with its secret segment)."""
        return f"/telegram/{webhook_path_segment(self.token, self.webhook_secret)}"

    # ---- lifecycle -----------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """The webhook route, in webhook mode."""
        if not self.webhook_url:
            return []
        return [web.post(self.webhook_path, self.webhook)]

    async def start(self) -> None:
        """Connect in the background (Telegram may be unreachable at boot); returns at once."""
        self._task = asyncio.create_task(self._run(), name="telegram-start")
        self._stop_listening = self.core.on_reload(self._content_reloaded)

    async def _run(self) -> None:
        try:
            await self._retrying("connect", self.application.initialize)
            await self.register_commands()
            await self.application.start()
            if self.webhook_url:
                await self._retrying("set webhook", self._set_webhook)
            else:
                updater = self.application.updater
                assert updater is not None
                await self._retrying(
                    "start polling",
                    lambda: updater.start_polling(
                        allowed_updates=list(ALLOWED_UPDATES),
                        timeout=timedelta(seconds=self.poll_timeout),
                        error_callback=self._polling_error,
                    ),
                )
            self.ready.set()
            log.info("telegram: %s mode, ready", self.mode)
        except tg.InvalidToken:
            log.error("telegram: the Bot API rejected TELEGRAM_BOT_TOKEN; channel not started")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("telegram: could not start")

    async def _retrying(self, what: str, action: Callable[[], Awaitable[T]]) -> T:
        """Run a start-up step, retrying network trouble with growing pauses (at most 60 s)."""
        delay = self.backoff[0]
        while True:
            try:
                return await action()
            except tg.RetryAfter as exc:
                pause = _seconds(exc.retry_after) + 0.1
            except (tg.TimedOut, tg.NetworkError) as exc:
                if isinstance(exc, tg.BadRequest):
                    raise
                pause = delay
                delay = min(delay * 2, 60.0)
            log.warning("telegram: %s failed (network); retrying in %.1fs", what, pause)
            await asyncio.sleep(pause)

    async def _set_webhook(self) -> None:
        await self.application.bot.set_webhook(
            url=f"{self.webhook_url}{self.webhook_path}",
            secret_token=self.webhook_secret,
            allowed_updates=list(ALLOWED_UPDATES),
            max_connections=40,
        )

    async def stop(self) -> None:
        """Stop polling, finish the updates in hand, close connections."""
        self._stop_listening()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        # When start-up never succeeded (a rejected token), PTB's shutdown is a no-op: close
        # the HTTP sessions the failed getMe opened ourselves (closing twice is harmless).
        for request in self._requests:
            await request.shutdown()
        self.ready.clear()

    def _polling_error(self, exc: tg.TelegramError) -> None:
        """getUpdates failed; PTB retries with a growing pause."""
        log.warning("telegram: polling failed (%s: %s); retrying", type(exc).__name__, exc)

    # ---- commands --------------------------------------------------------------------------

    def command_list(self) -> list[tuple[str, str]]:
        """(name, description) from content/messages/telegram.yaml, for commands the bot has."""
        texts = self.core.messages.texts
        known = self.core.public_commands()
        out = []
        for key, description in texts.items():
            if not key.startswith(COMMANDS_PREFIX):
                continue
            name = key[len(COMMANDS_PREFIX) :]
            if COMMAND_NAME.match(name) and name in known:
                out.append((name, " ".join(description.split())[:256]))
        return out

    async def register_commands(self) -> None:
        """Show our commands (in Vietnamese) in the Telegram "/" menu; failures are logged."""
        commands = self.command_list()
        if commands == self._commands:
            return
        try:
            await self.application.bot.set_my_commands([BotCommand(n, d) for n, d in commands])
        except tg.TelegramError as exc:
            log.warning("telegram: could not register commands (%s)", exc)
            return
        self._commands = commands

    async def _content_reloaded(self) -> None:
        if self.ready.is_set():
            await self.register_commands()

    # ---- inbound ---------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        """Telegram POSTs an update: check the secret, queue the update, answer at once."""
        supplied = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(supplied.encode(), self.webhook_secret.encode()):
            return web.Response(status=403, text="forbidden")
        if not self.application.running:
            return web.Response(status=503, text="starting")
        try:
            data = await request.json()
            update = Update.de_json(data, self.application.bot) if isinstance(data, dict) else None
        except Exception:
            update = None
        if update is None:
            return web.Response(status=400, text="not an update")
        if not await self._first_time(update.update_id):
            return web.Response(text="ok")
        await self.application.update_queue.put(update)
        return web.Response(text="ok")

    async def _first_time(self, update_id: int) -> bool:
        """Webhook deliveries can repeat (a timeout on Telegram's side): handle each id once.

        Old ids are pruned by ``bot.core.housekeeping``.
        """
        return await self.core.first_time(self.name, str(update_id))

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every update: map it to an event, run the core, send the replies. Never raises."""
        try:
            if update.my_chat_member is not None:
                await self._membership(update.my_chat_member)
                return
            event = event_of(update, self.name)
            query = update.callback_query
            answered = asyncio.create_task(self._answer(query)) if query else None
            if event is None:
                if answered is not None:
                    await answered
                return
            chat_id = int(event.sender.external_id)
            async with self._in_order(chat_id):
                try:
                    replies = await self.core.handle(event, self.capabilities)
                except Exception:
                    log.exception("telegram: update %s failed in the core", update.update_id)
                    replies = [Reply(text=self.core.messages("fallback.error"))]
                try:
                    await self.deliver(chat_id, replies)
                except Unreachable:
                    await self._mark_unreachable(str(chat_id))
                except DeliveryError as exc:
                    log.warning("telegram: reply to update %s not sent (%s)", update.update_id, exc)
            if answered is not None:
                await answered
        except Exception:
            log.exception("telegram: update %s failed", update.update_id)

    async def _answer(self, query: CallbackQuery) -> None:
        """Stop the button's spinner; a late or failed answer only costs the spinner."""
        try:
            await self._with_retries(lambda: query.answer())
        except (tg.TelegramError, DeliveryError) as exc:
            log.info("telegram: callback query not answered (%s)", type(exc).__name__)

    async def _membership(self, change: ChatMemberUpdated) -> None:
        """A user who blocks the bot is marked unreachable at once."""
        if change.chat.type == "private" and change.new_chat_member.status == "kicked":
            await self._mark_unreachable(str(change.chat.id))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything PTB caught: log it (without the update's content) and carry on."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram: error on update %s", update_id, exc_info=context.error)

    async def _mark_unreachable(self, external_id: str) -> None:
        try:
            await self.core.mark_unreachable(self.name, external_id)
        except Exception:
            log.exception("telegram: could not mark a user unreachable")

    # ---- outbound --------------------------------------------------------------------------

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Push replies to a user outside their turn (team answers, broadcasts).

        Raises ``Unreachable`` (blocked the bot), ``RetryAfter`` (flood control outlasted our
        retries) or ``DeliveryError``.
        """
        try:
            chat_id = int(external_id)
        except ValueError as exc:
            raise Unreachable("not a Telegram chat id") from exc
        try:
            await self.deliver(chat_id, replies)
        except Unreachable:
            await self._mark_unreachable(external_id)
            raise

    async def deliver(self, chat_id: int, replies: Sequence[Reply]) -> None:
        """Send replies in order; stops at the first failure and raises it as a DeliveryError."""
        buttons_only = self.core.messages("telegram.buttons_only")
        for reply in replies:
            image = self._image(reply.image) if reply.image else None
            for outgoing in render(reply, image, buttons_only):
                await self._send_one(chat_id, outgoing)
            if reply.document:
                await self._send_document(chat_id, reply.document)

    async def _send_document(self, chat_id: int, ref: str) -> None:
        """Upload a file made for the user (a report; images go as photos), if still valid."""
        shared = await self.core.file(ref)
        if shared is None:
            log.warning("telegram: a report file expired before it could be sent")
            return
        bot = self.application.bot
        upload = InputFile(shared.data, filename=shared.name)
        is_image = shared.content_type.startswith("image/")

        async def call() -> Any:
            if is_image:
                return await bot.send_photo(chat_id, upload)
            return await bot.send_document(chat_id, upload)

        await self._with_retries(call)

    def _image(self, image: str) -> str | Path | None:
        """A URL as is; a content path resolved inside the content directory (or None)."""
        if image.startswith(("https://", "http://")):
            return image
        path = self.core.content_file(image)
        if path is None:
            log.warning("telegram: image %s not found in the content directory", image)
            return None
        return path

    async def _send_one(self, chat_id: int, out: Outgoing) -> None:
        bot = self.application.bot
        if out.photo is None:

            async def call() -> Any:
                return await bot.send_message(
                    chat_id, out.text, parse_mode="HTML", reply_markup=out.markup
                )

            await self._with_retries(call)
            return
        photo = out.photo
        if isinstance(photo, Path):
            cached = self._photo_ids.get(photo)
            upload: Any = cached or InputFile(
                await asyncio.to_thread(photo.read_bytes), filename=photo.name
            )
        else:
            upload = photo

        async def send_photo() -> Any:
            return await bot.send_photo(
                chat_id,
                upload,
                caption=out.text or None,
                parse_mode="HTML" if out.text else None,
                reply_markup=out.markup,
            )

        sent = await self._with_retries(send_photo)
        if isinstance(photo, Path) and isinstance(sent, Message) and sent.photo:
            self._photo_ids[photo] = sent.photo[-1].file_id

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        """One Bot API call: network errors retried with backoff, Telegram errors mapped.

        429 is retried by the rate limiter first; when it persists it becomes ``RetryAfter``.
        """
        for attempt in range(len(self.backoff) + 1):
            try:
                return await call()
            except tg.RetryAfter as exc:
                raise RetryAfter(_seconds(exc.retry_after)) from exc
            except tg.Forbidden as exc:
                raise Unreachable(str(exc)) from exc
            except tg.BadRequest as exc:
                if "chat not found" in str(exc).lower():
                    raise Unreachable(str(exc)) from exc
                raise DeliveryError(f"rejected by Telegram: {exc}") from exc
            except (tg.TimedOut, tg.NetworkError) as exc:
                if attempt == len(self.backoff):
                    raise DeliveryError(f"network: {exc}") from exc
                log.info("telegram: send failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(self.backoff[attempt])
            except tg.TelegramError as exc:
                raise DeliveryError(str(exc)) from exc
        raise AssertionError("unreachable")
