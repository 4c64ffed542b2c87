"""Channel-neutral inbound events: what a user did, whatever the messenger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Sender:
    """Who sent an event: the channel name, the user's id on that channel and their display name."""

    channel: str
    external_id: str
    display_name: str | None = None


@dataclass(frozen=True)
class Event:
    """Base of every inbound event."""

    sender: Sender


@dataclass(frozen=True)
class TextMessage(Event):
    """The user typed text."""

    text: str


@dataclass(frozen=True)
class ButtonPress(Event):
    """The user pressed a button; ``payload`` is the handler-level payload once resolved."""

    payload: str


@dataclass(frozen=True)
class Command(Event):
    """A command such as ``/start abc``: ``name`` is ``start`` and ``arg`` is ``abc``."""

    name: str
    arg: str = ""


@dataclass(frozen=True)
class StaleButton(Event):
    """A button press whose token is unknown for this user: expired, or forged."""

    token: str


@dataclass(frozen=True)
class Unsupported(Event):
    """Something the bot cannot read (sticker, voice, image...); ``kind`` names it."""

    kind: str


_KINDS: dict[str, type[Event]] = {
    kind.__name__: kind for kind in (TextMessage, ButtonPress, Command, StaleButton, Unsupported)
}


def to_json(event: Event) -> dict[str, Any]:
    """The event without its channel and address (kept beside it), as JSON."""
    fields = {k: v for k, v in vars(event).items() if k != "sender"}
    return {"kind": type(event).__name__, "name": event.sender.display_name, **fields}


def from_json(channel: str, address: str, data: dict[str, Any]) -> Event | None:
    """The event ``to_json`` wrote; None for anything else."""
    kind = _KINDS.get(str(data.get("kind")))
    if kind is None:
        return None
    values = {k: v for k, v in data.items() if k not in ("kind", "name")}
    name = data.get("name")
    sender = Sender(channel, address, name if isinstance(name, str) else None)
    try:
        return kind(sender=sender, **values)
    except TypeError:
        return None
