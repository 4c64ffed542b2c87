"""The core's ports: what a channel may ask of the core, and what the core asks of a channel.

A channel adapter (``bot/channels/``) is given a :class:`Core` and nothing else: it never sees
the dispatcher, the services or a repository. The core reaches a channel through
:class:`Outbound` (push replies to one user) and learns how a push went from the delivery
errors below, whatever the platform.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.content.messages import Messages
    from bot.core.events import Event
    from bot.core.replies import Reply


@dataclass(frozen=True)
class Capabilities:
    """What a channel can show: buttons, images, the longest text, and its markup."""

    buttons: bool
    images: bool
    max_text: int
    markup: str = "plain"  # plain | html | raw (the client renders **bold** itself)


# ---- how a delivery went ----------------------------------------------------------------------


class DeliveryError(Exception):
    """A message was not confirmed delivered. As such: it was not sent; trying later may work.

    The subclasses say more: try again soon (``Transient``), slow down (``RetryAfter``), give up
    on this user (``Unreachable``), or never send it again because it may have arrived
    (``Uncertain``).
    """


class Transient(DeliveryError):
    """Nothing was delivered, and trying again soon may work: the connection was refused, the
    platform answered that it is overloaded or unavailable."""


class RetryAfter(DeliveryError):
    """The platform asked us to slow down for ``seconds``; nothing was sent."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds:g}s")
        self.seconds = seconds


class Unreachable(DeliveryError):
    """The user can no longer be reached (they blocked the bot); do not try again."""


class NotAllowed(DeliveryError):
    """The platform's rules forbid this push now (Zalo OA: the citizen has not written in the
    last 7 days). Nothing was sent, it is not retried, and the user stays reachable; ``reason``
    names the rule for reports (``zalo_window``)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


class Uncertain(DeliveryError):
    """The request reached the platform but no answer came back (a timeout, a connection lost
    after sending): the message may have been delivered. Never send it again."""


def failure_reason(exc: Exception) -> str:
    """A failed delivery in one word, for the person who sent it: ``unreachable``,
    ``uncertain`` (it may have arrived), a ``NotAllowed`` rule (``zalo_window``) or ``error``."""
    if isinstance(exc, NotAllowed):
        return exc.reason
    if isinstance(exc, Unreachable):
        return "unreachable"
    if isinstance(exc, Uncertain):
        return "uncertain"
    return "error"


# ---- the ports ---------------------------------------------------------------------------------

Respond = Callable[["Sequence[Reply]"], Awaitable[None]]
ReloadListener = Callable[[], Awaitable[None]]


class FileMissing(LookupError):
    """A file's link is valid but its bytes are gone (``teams.file_dir`` not shared by every
    process, or emptied by hand)."""


@dataclass(frozen=True)
class SharedFile:
    """A file made for a user (a report CSV, a chart), as a channel sends it."""

    name: str
    content_type: str
    data: bytes


class Core(Protocol):
    """What a channel needs from the core."""

    @property
    def messages(self) -> Messages:
        """The current user-facing texts (``content/messages``); read it once per use."""
        ...

    async def handle(
        self,
        event: Event,
        caps: Capabilities,
        respond: Respond | None = None,
        *,
        once: str | None = None,
        seq: int | None = None,
    ) -> list[Reply]:
        """Run one turn and return its replies.

        With ``respond``, the core also hands the replies to it while it still holds the user's
        turn, so one user's replies go out in the order their messages came; a turn that fails
        is answered with the apology (``fallback.error``) instead of raising. With ``once`` (the
        platform's id of the event), a redelivered event is dropped: checked in the user's turn,
        retried like the turn itself. ``seq`` is the event's place in the platform's order of
        the user's events (an update id, a message time): with several processes, the user's
        turns run in that order whichever process received them, and ``respond`` may also get
        the replies of the user's turns another process received (same address).
        """
        ...

    async def first_time(self, channel: str, event_id: str) -> bool:
        """Record a platform event id; False when any process has seen it already."""
        ...

    async def mark_unreachable(self, channel: str, external_id: str) -> None:
        """The platform says this user blocked the bot: pushes to them stop until they write."""
        ...

    async def file(self, ref: str) -> SharedFile | None:
        """The file behind a ``Reply.document`` reference, unless it expired (None); raises
        ``FileMissing`` when its bytes are gone."""
        ...

    def file_link(self, ref: str, *, relative: bool = False) -> str:
        """The download link of a ``Reply.document`` reference."""
        ...

    def content_file(self, relative: str) -> Path | None:
        """A file inside the content folder (an image a reply names), or None if not there."""
        ...

    def public_commands(self) -> set[str]:
        """Names of the commands anyone may use (for a platform's command menu)."""
        ...

    def on_reload(self, listener: ReloadListener) -> Callable[[], None]:
        """Call ``listener`` after each good content reload; returns the way to stop."""
        ...

    async def outbox_put(self, external_id: str, items: Sequence[dict[str, Any]]) -> None:
        """Keep pushed replies for a user whose client fetches them (the web chat)."""
        ...

    async def outbox_take(self, external_id: str) -> list[dict[str, Any]]:
        """Remove and return what ``outbox_put`` kept for a user, oldest first."""
        ...

    async def history_add(self, external_id: str, items: Sequence[dict[str, Any]]) -> None:
        """Append to a web chat's recent history (the last few items of users who consented)."""
        ...

    async def history(self, external_id: str) -> list[dict[str, Any]]:
        """A web chat's recent history, oldest first (for a page that reloads)."""
        ...

    async def web_session_key(self) -> bytes:
        """The key that signs web chat identities: ``WEB_SESSION_KEY``, else one generated
        once and kept in the database, so every process accepts the others' identities."""
        ...


class Outbound(Protocol):
    """What the core needs from a channel: push replies to one of its users."""

    name: str

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Deliver replies outside the user's turn; raises the delivery errors above."""
        ...
