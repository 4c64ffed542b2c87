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

Rendering lives in ``bot.channels.telegram_render``; turns, retries and the error policy come
from ``bot.channels.base.Adapter``. PTB's ``AIORateLimiter`` paces sends and retries after 429;
only errors that prove nothing was sent are retried (a refused connection, 502/503); a timeout
after sending is ``Uncertain`` and never sent again; a user who blocked the bot (403) is marked
unreachable; nothing escapes into PTB's loop. Updates of one user are handled in order,
different users concurrently. The bot token and each of its halves are redacted from every log
record (``bot.redaction.protect_token``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

# Opt in to PTB's timedelta durations now: without it, merely building a RetryAfter (a 429
# answer) issues a deprecation warning in PTB 22.x.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from aiohttp import web
from telegram import BotCommand, CallbackQuery, ChatMemberUpdated, InputFile, Message, Update
from telegram import error as tg
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.channels.base import Adapter, Backoff
from bot.channels.telegram_http import (
    DEFAULT_TIMEOUT,
    AiohttpRequest,
    TokenRefusedNow,
    is_not_sent,
)
from bot.channels.telegram_render import (
    MAX_CALLBACK_DATA,
    MAX_TEXT,
    Outgoing,
    event_of,
    html_chunks,
    render,
    utf16_len,
)
from bot.config import ConfigError
from bot.core.ports import (
    Capabilities,
    Core,
    DeliveryError,
    FileMissing,
    RetryAfter,
    Transient,
    Uncertain,
    Unreachable,
)
from bot.core.replies import Reply
from bot.redaction import protect_secret, protect_token

if TYPE_CHECKING:
    from bot.config import Config

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
# The update types we handle; also what setWebhook and getUpdates ask for.
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
COMMANDS_PREFIX = "telegram.commands."
# Updates handled at once (different users; one user's stay in order). The core commits the turns
# in hand together (bot/core/dispatcher.py), so more at once means bigger batches, not more
# writers on the database.
CONCURRENCY = 64

CAPABILITIES = Capabilities(buttons=True, images=True, max_text=MAX_TEXT, markup="html")

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
__all__ = ["MAX_CALLBACK_DATA", "TelegramChannel", "html_chunks", "render", "utf16_len"]


def webhook_path_segment(token: str, secret: str) -> str:
    """The secret part of the webhook path: stable across restarts, reveals neither secret."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()[:32]


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# ---- the channel -------------------------------------------------------------------------------


class TelegramChannel(Adapter):
    """The Telegram adapter. Build it with :meth:`from_config`."""

    name = "telegram"
    capabilities = CAPABILITIES
    retry_rate_limits = False  # PTB's AIORateLimiter waits and retries after 429 itself

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
        call_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(core, retry=Backoff(tuple(backoff) or (1.0,)), concurrency=concurrency)
        if not token:
            raise ConfigError("telegram: TELEGRAM_BOT_TOKEN is empty")
        protect_token(token)
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
        self.poll_timeout = poll_timeout
        # Ours to close too: when start-up never succeeded, PTB's shutdown leaves them open.
        self._requests = (
            AiohttpRequest(read_timeout=call_timeout),
            AiohttpRequest(1, updates=True),
        )
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
        self._commands: list[tuple[str, str]] | None = None
        self._photo_ids: dict[Path, str] = {}
        self._stop_listening: Callable[[], None] = lambda: None
        self._token_refused = False

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
            self._requests[1].token_worked = True
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
        failures = 0
        while True:
            try:
                return await action()
            except tg.RetryAfter as exc:
                pause = _seconds(exc.retry_after) + 0.1
            except (tg.TimedOut, tg.NetworkError) as exc:
                if isinstance(exc, tg.BadRequest):
                    raise
                failures += 1
                pause = self.retry.pause(failures)
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
        if isinstance(exc, TokenRefusedNow):
            if not self._token_refused:
                self._token_refused = True
                log.error(
                    "telegram: getUpdates was refused (401): check TELEGRAM_BOT_TOKEN (it "
                    "changes when the token is revoked in @BotFather); it had worked, so "
                    "polling keeps retrying with back-off"
                )
            return
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
        if not hmac.compare_digest(
            supplied.encode("utf-8", "surrogateescape"), self.webhook_secret.encode()
        ):
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
        await self.application.update_queue.put(update)
        return web.Response(text="ok")

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every update: map it to an event, run the turn (core and replies). Never raises."""
        try:
            if update.my_chat_member is not None:
                await self._membership(update.my_chat_member)
                return
            event = event_of(update, self.name)
            query = update.callback_query
            answered = asyncio.create_task(self._answer(query)) if query else None
            if event is not None:
                # Webhook deliveries can repeat (a timeout on Telegram's side): the core drops
                # an update id it has seen, inside the user's turn. Polling confirms offsets.
                # Update ids grow in the order Telegram received the updates: the user's order.
                once = str(update.update_id) if self.webhook_url else None
                await self.turn(event, once=once, seq=update.update_id)
            if answered is not None:
                await answered
        except Exception:
            log.exception("telegram: update %s failed", update.update_id)

    async def _answer(self, query: CallbackQuery) -> None:
        """Stop the button's spinner; a late or failed answer only costs the spinner."""
        try:
            await self.call(lambda: query.answer(), "answerCallbackQuery")
        except (tg.TelegramError, DeliveryError) as exc:
            log.info("telegram: callback query not answered (%s)", type(exc).__name__)

    async def _membership(self, change: ChatMemberUpdated) -> None:
        """A user who blocks the bot is marked unreachable at once."""
        if change.chat.type == "private" and change.new_chat_member.status == "kicked":
            await self.unreachable(str(change.chat.id))

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything PTB caught: log it (without the update's content) and carry on."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("telegram: error on update %s", update_id, exc_info=context.error)

    # ---- outbound --------------------------------------------------------------------------

    async def deliver(self, address: str, replies: Sequence[Reply]) -> None:
        """Send replies in order; stops at the first failure and raises it as a DeliveryError."""
        try:
            chat_id = int(address)
        except ValueError as exc:
            raise Unreachable("not a Telegram chat id") from exc
        buttons_only = self.core.messages("telegram.buttons_only")
        for reply in replies:
            image = self._image(reply.image) if reply.image else None
            for outgoing in render(reply, image, buttons_only):
                await self._send_one(chat_id, outgoing)
            if reply.document:
                await self._send_document(chat_id, reply.document)

    async def _send_document(self, chat_id: int, ref: str) -> None:
        """Upload a file made for the user (a report; images go as photos), if still valid."""
        try:
            shared = await self.core.file(ref)
        except FileMissing:  # logged by the core, naming the folder
            return
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

        await self.call(call, "sendDocument")

    def _image(self, image: str) -> str | Path | None:
        """A URL as is; a content path resolved inside the content directory (or None)."""
        if image.startswith(("https://", "http://")):
            return image
        path = self.core.content_file(image)
        if path is None:
            log.warning("telegram: image %s not found in the content directory", image)
        return path

    async def _send_one(self, chat_id: int, out: Outgoing) -> None:
        bot = self.application.bot
        if out.photo is None:

            async def call() -> Any:
                return await bot.send_message(
                    chat_id, out.text, parse_mode="HTML", reply_markup=out.markup
                )

            await self.call(call, "sendMessage")
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

        sent = await self.call(send_photo, "sendPhoto")
        if isinstance(photo, Path) and isinstance(sent, Message) and sent.photo:
            self._photo_ids[photo] = sent.photo[-1].file_id

    def delivery_error(self, exc: Exception) -> DeliveryError | None:
        """Telegram's errors as delivery errors.

        429 (after the rate limiter's own retries) is ``RetryAfter``; 403 and "chat not found"
        ``Unreachable``; a refused connection or a 502/503 ``Transient``; a timeout or a lost
        connection after sending ``Uncertain``.
        """
        if not isinstance(exc, tg.TelegramError):
            return None
        if isinstance(exc, tg.RetryAfter):
            return RetryAfter(_seconds(exc.retry_after))
        if isinstance(exc, tg.Forbidden):
            return Unreachable(str(exc))
        if isinstance(exc, tg.BadRequest):
            if "chat not found" in str(exc).lower():
                return Unreachable(str(exc))
            return DeliveryError(f"rejected by Telegram: {exc}")
        if is_not_sent(exc):
            return Transient(f"network: {exc}")
        if isinstance(exc, tg.InvalidToken):
            return DeliveryError("TELEGRAM_BOT_TOKEN was refused")
        if isinstance(exc, (tg.TimedOut, tg.NetworkError)):
            return Uncertain(f"no answer from Telegram: {exc}")
        return DeliveryError(str(exc))
