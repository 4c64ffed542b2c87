"""Text rendering shared by channels: markup, splitting, and buttons as numbered text.

Channels without buttons use ``render_plain``: buttons become lines marked 1️⃣, 2️⃣... (answer
choices "A.", "B."...), and the dispatcher maps "1", "A" or the label back to the button.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.core.replies import Reply, mark, number_buttons

if TYPE_CHECKING:
    from bot.content.messages import Messages
    from bot.core.ports import Core


_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
ATTACHED = "\ue000"  # an ``image_text`` result starting with this is a photo's place holder


def strip_markup(text: str) -> str:
    """Plain text: ``**bold**`` loses its stars."""
    return _BOLD.sub(r"\1", text)


def to_html(text: str) -> str:
    """Telegram HTML: escaped, with ``**bold**`` as ``<b>``."""
    return _BOLD.sub(r"<b>\1</b>", html.escape(text, quote=False))


def render_text(text: str, markup: str) -> str:
    """The text in a channel's markup."""
    if markup == "html":
        return to_html(text)
    if markup == "raw":
        return text
    return strip_markup(text)


def split_text(text: str, limit: int) -> list[str]:
    """Split text below ``limit`` characters, at paragraph, then line, then word boundaries."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    for separator in ("\n\n", "\n", " "):
        parts = text.split(separator)
        if len(parts) == 1:
            continue
        chunks: list[str] = []
        current = ""
        for part in parts:
            candidate = f"{current}{separator}{part}" if current else part
            if len(candidate) <= limit:
                current = candidate
                continue
            if current:
                chunks.append(current)
            if len(part) <= limit:
                current = part
            else:
                pieces = split_text(part, limit)
                chunks.extend(pieces[:-1])
                current = pieces[-1] if pieces else ""
        if current:
            chunks.append(current)
        return [c.strip() for c in chunks if c.strip()]
    return [text[i : i + limit] for i in range(0, len(text), limit)]


def _join_keys(keys: Sequence[str], messages: Messages) -> str:
    if len(keys) == 1:
        return keys[0]
    return f"{', '.join(keys[:-1])} {messages('channel.or')} {keys[-1]}"


SHORT_LIST = 3  # up to this many numbers are listed in the hint ("1, 2 hoặc 3"); more: a range


def _numbers_hint(numbers: Sequence[str], messages: Messages) -> str:
    """How to answer with a number: "Trả lời số 1, 2 hoặc 3", or for a long list the range."""
    if len(numbers) > SHORT_LIST and numbers == [str(n) for n in range(1, len(numbers) + 1)]:
        return messages("channel.answer_range", first=numbers[0], last=numbers[-1])
    return messages("channel.answer_numbers", keys=_join_keys(numbers, messages))


def _pack(bodies: Sequence[tuple[str, bool]], limit: int) -> list[str]:
    """Consecutive bodies joined into as few messages as fit ``limit`` (each message sent on a
    text-only channel counts against its quota); a message holds at most one image."""
    packed: list[tuple[str, bool]] = []
    for body, has_image in bodies:
        if packed:
            text, with_image = packed[-1]
            joined = f"{text}\n\n{body}"
            if len(joined) <= limit and not (with_image and has_image):
                packed[-1] = (joined, with_image or has_image)
                continue
        packed.append((body, has_image))
    return [text for text, _ in packed]


def render_plain(
    replies: Sequence[Reply],
    messages: Messages,
    limit: int,
    image_text: Callable[[str], str] | None = None,
) -> list[str]:
    """Replies as plain text messages for a channel without buttons, as few as fit.

    Buttons become numbered lines ("1️⃣ Bài học"), answer choices lettered lines ("A. ..."),
    and the turn ends with how to answer ("Trả lời số 1, 2 hoặc 3"; for a long list "Trả lời
    số từ 1 đến 15"). The replies of one turn share messages while they fit ``limit``;
    ``image_text`` gives an image's line, or a place holder starting with ``ATTACHED`` for a
    photo sent with the message (one per message).
    """
    keyed = number_buttons(replies)
    by_reply: dict[int, list[str]] = {}
    for item in keyed:
        by_reply.setdefault(item.reply_index, []).append(f"{mark(item.key)} {item.button.label}")
    bodies: list[tuple[str, bool]] = []
    for index, reply in enumerate(replies):
        parts = []
        image = image_text(reply.image) if reply.image and image_text is not None else ""
        if image:
            parts.append(image)
        if reply.text:
            parts.append(strip_markup(reply.text))
        if index in by_reply:
            parts.append("\n".join(by_reply[index]))
        body = "\n\n".join(p for p in parts if p)
        if body:
            bodies.append((body, image.startswith(ATTACHED)))
    if keyed:
        numbers = [k.key for k in keyed if k.key.isdigit()]
        letters = [k.key for k in keyed if not k.key.isdigit()]
        # One instruction per turn, never stacked: the letters of a question's choices when
        # there are some (its numbered buttons explain themselves), else the numbers and "0".
        if letters:
            hint = messages("channel.answer_letters", keys=_join_keys(letters, messages))
        else:
            hint = _numbers_hint(numbers, messages)
        if bodies:
            text, has_image = bodies[-1]
            bodies[-1] = (f"{text}\n\n{hint.strip()}", has_image)
        else:
            bodies.append((hint.strip(), False))
    out: list[str] = []
    for text in _pack(bodies, limit):
        out.extend(split_text(text, limit))
    return out


PHOTO_NAMES = (".png", ".jpg", ".jpeg")


def photos_of_files(replies: Sequence[Reply], core: Core) -> list[Reply]:
    """Replies with each picture file (a certificate, a chart) as the reply's image when its link
    is public https, which a platform that fetches photos by URL (Zalo) can load; other
    documents stay for ``links_in_text``."""
    out = []
    for reply in replies:
        if reply.document and not reply.image and reply.document.lower().endswith(PHOTO_NAMES):
            link = core.file_link(reply.document)
            if link.startswith("https://"):
                reply = replace(reply, image=link, document=None)
        out.append(reply)
    return out


def links_in_text(replies: Sequence[Reply], core: Core, messages: Messages) -> list[Reply]:
    """Replies with each document turned into a download line in the text (text-only channels)."""
    out = []
    for reply in replies:
        if reply.document:
            link = messages("files.link", url=core.file_link(reply.document))
            text = f"{reply.text}\n\n{link}" if reply.text else link
            reply = replace(reply, text=text, document=None)
        out.append(reply)
    return out
