"""Channel-neutral replies, and the one numbering of buttons that text-only channels rely on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

LETTERS = "ABCDEFGH"
KEYCAP = "\ufe0f\u20e3"  # a digit followed by these two is its keycap emoji: "1️⃣"
TEN = "\U0001f51f"  # 🔟


@dataclass(frozen=True)
class Button:
    """A button: the label the user sees and the payload the bot gets back when it is pressed."""

    label: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """One message to the user.

    ``text`` may use the light markup ``**bold**``. ``buttons`` are offered under the message;
    when ``choices`` is true they are the answers to a question (lettered A, B, C... on text-only
    channels). ``image`` is a public URL or a path relative to the content directory.
    ``document`` is a file for the user (a reference from ``bot.core.files.share``): uploaded
    on Telegram, a download link on the web chat and on text-only channels. ``key`` is the
    message key of the text when it is one message (``Context.say``); channels ignore it, tests
    read it.
    """

    text: str
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    image: str | None = None
    choices: bool = False
    document: str | None = None
    key: str | None = field(default=None, compare=False)

    @classmethod
    def with_buttons(cls, text: str, buttons: Sequence[Button]) -> Reply:
        """Text with buttons under it."""
        return cls(text=text, buttons=tuple(buttons))

    @classmethod
    def picture(cls, image: str, caption: str = "") -> Reply:
        """An image with a caption."""
        return cls(text=caption, image=image)

    @classmethod
    def question(cls, text: str, choices: Sequence[Button]) -> Reply:
        """A question whose buttons are its answer choices."""
        return cls(text=text, buttons=tuple(choices), choices=True)


@dataclass(frozen=True)
class Keyed:
    """A button with the key a text-only user types to press it ("1", "2"... or "A", "B"...)."""

    key: str
    button: Button
    reply_index: int


@dataclass(frozen=True)
class Offered:
    """A button offered in the user's last turn: the key a text-only user types, the folded
    label a user may type instead, and its payload (stored as ``[key, label, payload]``)."""

    key: str
    label: str
    payload: str

    def to_json(self) -> list[str]:
        """As stored in ``conversation_state.last_buttons``."""
        return [self.key, self.label, self.payload]

    @classmethod
    def all_of(cls, stored: Any) -> list[Offered]:
        """The offered buttons from their stored JSON (items of another shape are skipped)."""
        if not isinstance(stored, list):
            return []
        return [
            cls(str(item[0]), str(item[1]), str(item[2]))
            for item in stored
            if isinstance(item, list) and len(item) == 3
        ]


def number_buttons(replies: Sequence[Reply]) -> list[Keyed]:
    """Give every button of one turn its key: numbers across the turn, letters within a question."""
    keyed: list[Keyed] = []
    number = 0
    for index, reply in enumerate(replies):
        for position, button in enumerate(reply.buttons):
            if reply.choices and position < len(LETTERS):
                key = LETTERS[position]
            else:
                number += 1
                key = str(number)
            keyed.append(Keyed(key=key, button=button, reply_index=index))
    return keyed


def mark(key: str) -> str:
    """How a key shows in text: a keycap emoji for 1 to 10, so the buttons never look like the
    numbered steps of an answer ("1. Mở ứng dụng..."); "A." for answer choices."""
    if len(key) == 1 and key.isdigit():
        return key + KEYCAP
    return TEN if key == "10" else f"{key}."


def typed_key(text: str) -> str:
    """The key a user typed: "2", "2.", "2)" or a keycap "2️⃣" give "2"; "b" gives "B"."""
    bare = text.strip().replace("\ufe0f", "").replace("\u20e3", "").replace(TEN, "10")
    return bare.rstrip(".)").upper()
