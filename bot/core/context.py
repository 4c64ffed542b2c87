"""What a handler gets: the event, the user and their state, content, the session and services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.core.events import Event
from bot.core.replies import Button, Reply

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.content.snapshot import Snapshot
    from bot.core.ports import Capabilities
    from bot.core.services import Services
    from storage.models import ConversationState, User


REF_MARK = "\x00"  # brackets a ``Context.ref`` in a payload; never typed, never shown


@dataclass(frozen=True)
class Push:
    """Replies for another user, delivered on their own channel after this event commits."""

    user_id: int
    replies: tuple[Reply, ...]


@dataclass
class Context:
    """Per-event context. Handlers read from it and add replies to it; nothing is global."""

    event: Event
    user: User
    state: ConversationState
    session: AsyncSession
    content: Snapshot
    services: Services
    caps: Capabilities
    replies: list[Reply] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    refs: list[Any] = field(default_factory=list)

    def t(self, key: str, **values: Any) -> str:
        """The user-facing text for ``key`` (from ``content/messages``), placeholders filled."""
        return self.content.messages(key, **values)

    def button(self, label_key: str, payload: str, **values: Any) -> Button:
        """A button whose label is the message ``label_key``."""
        return Button(label=self.t(label_key, **values), payload=payload)

    def send(self, reply: Reply) -> None:
        """Add a reply to this turn."""
        self.replies.append(reply)

    def say(self, key: str, *buttons: Button, **values: Any) -> None:
        """Reply with the message ``key`` and optional buttons."""
        self.replies.append(Reply(text=self.t(key, **values), buttons=tuple(buttons)))

    def ref(self, row: Any) -> str:
        """Stands for ``row.id`` in a button payload, for a row added in this turn.

        Rows are written once for all the turns handled together (one flush, not one per
        turn), so a new row has no id yet; the dispatcher puts the id in its place before the
        buttons are offered.
        """
        self.refs.append(row)
        return f"{REF_MARK}{len(self.refs) - 1}{REF_MARK}"

    def push(self, user_id: int, *replies: Reply) -> None:
        """Send replies to another user once this event is committed."""
        self.pushes.append(Push(user_id=user_id, replies=tuple(replies)))

    @property
    def flow(self) -> str | None:
        """The feature that currently owns the conversation (e.g. ``lesson``), if any."""
        return self.state.flow

    @property
    def data(self) -> dict[str, Any]:
        """The current flow's data (a JSON-serialisable dict, saved after the event)."""
        return self.state.data

    def enter(self, flow: str, data: dict[str, Any]) -> None:
        """Hand the conversation to ``flow`` with fresh data."""
        self.state.flow = flow
        self.state.data = dict(data)

    def update(self, **values: Any) -> None:
        """Change some keys of the flow data."""
        self.state.data = {**self.state.data, **values}

    def leave(self) -> None:
        """End the current flow."""
        self.state.flow = None
        self.state.data = {}
