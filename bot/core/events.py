"""Channel-neutral inbound events: what a user did, whatever the messenger."""

from __future__ import annotations

from dataclasses import dataclass


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
