"""Telegram rendering: core events from updates, and replies as Bot API calls.

Text goes as HTML (``**bold**`` becomes ``<b>``), split below 4,096 UTF-16 units once escaped;
buttons are inline keyboards, one button per row (big targets for elderly users), on the last
message of a reply; an image goes as a photo, with the text as its caption when it fits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.channels.plain import split_text, to_html
from bot.core.events import ButtonPress, Event, Sender, TextMessage, Unsupported
from bot.core.replies import Reply

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
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
