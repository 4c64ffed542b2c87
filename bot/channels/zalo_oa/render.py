"""A turn's replies as Zalo OA messages.

A reply with buttons (at most ``MAX_BUTTONS``) becomes a text message with the OA's button
template: each button is ``oa.query.show`` whose payload is the button's label, so a tap comes
back as the citizen's own text (the label, shown in the chat), which the core maps to the
button offered. Each message also carries its ``fallback``: the same text with the buttons as
numbered lines ("1️⃣ Bài học", answer choices "A. ..."), used when the OA refuses the template
or has too many buttons, and the citizen answers by typing the number or the label.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bot.channels.plain import split_text, strip_markup
from bot.content.messages import Messages
from bot.core.replies import Keyed, Reply, mark, number_buttons

MAX_TEXT = 2000  # message/cs text limit
CHUNK = 1900  # what we put in one message, well below the limit however it is counted
MAX_BUTTONS = 5  # buttons in one template (unverified limit: more become numbered lines)
MAX_TITLE = 100  # characters of a button title shown; the payload keeps the whole label


@dataclass(frozen=True)
class OAMessage:
    """One ``message/cs`` call: text, buttons (title, payload), an image, and its fallback
    (the text to send instead when the template or the image is refused; may need splitting)."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()
    image: str | None = None
    fallback: str = ""

    def body(self) -> dict[str, object]:
        """The ``message`` part for text and buttons (images are built by the channel)."""
        message: dict[str, object] = {"text": self.text}
        if self.buttons:
            message["attachment"] = {
                "type": "template",
                "payload": {
                    "buttons": [
                        {"title": title, "type": "oa.query.show", "payload": payload}
                        for title, payload in self.buttons
                    ]
                },
            }
        return message


def fit(text: str) -> list[str]:
    """NFC text in chunks below the limit."""
    return split_text(unicodedata.normalize("NFC", text), CHUNK)


def _keys_text(keys: Sequence[str], messages: Messages) -> str:
    if len(keys) == 1:
        return keys[0]
    return f"{', '.join(keys[:-1])} {messages('channel.or')} {keys[-1]}"


def _numbered(text: str, keyed: Sequence[Keyed], messages: Messages) -> str:
    """Text with its buttons as numbered lines and how to answer."""
    lines = [f"{mark(k.key)} {k.button.label}" for k in keyed]
    numbers = [k.key for k in keyed if k.key.isdigit()]
    letters = [k.key for k in keyed if not k.key.isdigit()]
    # One instruction, never stacked (as bot/channels/plain.py): the letters of a question's
    # choices when there are some, else the numbers and "0" for the menu.
    if letters:
        hint = messages("channel.answer_letters", keys=_keys_text(letters, messages))
    elif numbers:
        hint = messages("channel.answer_numbers", keys=_keys_text(numbers, messages))
    else:
        hint = ""
    return "\n\n".join(p for p in (text, "\n".join(lines), hint) if p)


def render(
    replies: Sequence[Reply], messages: Messages, *, template: bool = True
) -> list[OAMessage]:
    """The messages of one turn, in order. ``template`` False: buttons as numbered lines."""
    keyed = number_buttons(replies)
    out: list[OAMessage] = []
    for index, reply in enumerate(replies):
        text = strip_markup(reply.text or "").strip()
        mine = [k for k in keyed if k.reply_index == index]
        if reply.image:
            caption = fit(text)[0] if text and len(text) <= CHUNK else ""
            out.append(OAMessage(text=caption, image=reply.image, fallback=caption))
            if caption:
                text = ""
        if not mine:
            out.extend(OAMessage(text=part, fallback=part) for part in fit(text))
            continue
        numbered = _numbered(text, mine, messages)
        if not template or len(mine) > MAX_BUTTONS or not text:
            out.extend(OAMessage(text=part, fallback=part) for part in fit(numbered))
            continue
        parts = fit(text)
        out.extend(OAMessage(text=part, fallback=part) for part in parts[:-1])
        buttons = tuple((k.button.label[:MAX_TITLE], k.button.label) for k in mine)
        last = parts[-1]
        out.append(OAMessage(text=last, buttons=buttons, fallback=_numbered(last, mine, messages)))
    return out
