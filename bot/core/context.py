"""What a handler gets: the event, the user and their state, content, the session and services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from bot.core.events import Event
from bot.core.flows import D, Flow
from bot.core.hooks import Extensions, Hook
from bot.core.payloads import Payload, RowRef
from bot.core.replies import Button, Offered, Reply

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.content.snapshot import Snapshot
    from bot.core.ports import Capabilities
    from bot.core.services import Services
    from storage.models import ConversationState, User

T = TypeVar("T")


@dataclass(frozen=True)
class Push:
    """Replies for another user, delivered on their own channel after this event commits."""

    user_id: int
    replies: tuple[Reply, ...]
    if_failed: Receipt | None = None


@dataclass(frozen=True)
class Receipt:
    """Who is told when a push fails, and how: the message ``{key}_{reason}`` (reason from
    ``ports.failure_reason``; ``{key}_error`` when there is no such message)."""

    user_id: int
    key: str
    values: tuple[tuple[str, str], ...] = ()


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
    routes: Extensions | None = None  # the hooks' contributions (bot.core.router.Routes)
    pressed: Payload | None = None  # the parsed payload of a button press

    def t(self, key: str, **values: Any) -> str:
        """The user-facing text for ``key`` (from ``content/messages``), placeholders filled."""
        return self.content.messages(key, **values)

    def button(self, label_key: str, payload: Payload, **values: Any) -> Button:
        """A button whose label is the message ``label_key``."""
        return Button(label=self.t(label_key, **values), payload=payload.pack())

    @staticmethod
    def labelled(label: str, payload: Payload) -> Button:
        """A button with a label that is not a message (a team's or a lesson's name)."""
        return Button(label=label, payload=payload.pack())

    def send(self, reply: Reply) -> None:
        """Add a reply to this turn."""
        self.replies.append(reply)

    def say(self, key: str, *buttons: Button, **values: Any) -> None:
        """Reply with the message ``key`` and optional buttons."""
        self.replies.append(Reply(text=self.t(key, **values), buttons=tuple(buttons), key=key))

    def ref(self, row: Any) -> int:
        """Stands for ``row.id`` in a button payload, for a row added in this turn.

        Rows are written once for all the turns handled together (one flush, not one per
        turn), so a new row has no id yet; the dispatcher puts the id in its place before the
        buttons are offered.
        """
        self.refs.append(row)
        return RowRef(len(self.refs) - 1)

    def extensions(self, hook: Hook[T]) -> list[T]:
        """What the features added to ``hook``, an extension point another feature declared."""
        return self.routes.extensions(hook) if self.routes is not None else []

    def push(self, user_id: int, *replies: Reply, if_failed: Receipt | None = None) -> None:
        """Send replies to another user once this event is committed (``if_failed``: whom
        to tell when it could not be delivered)."""
        self.pushes.append(Push(user_id=user_id, replies=tuple(replies), if_failed=if_failed))

    @property
    def flow(self) -> str | None:
        """The name of the flow that currently owns the conversation (e.g. ``lesson``), if any."""
        return self.state.flow

    def in_flow(self, flow: Flow[Any]) -> bool:
        """Whether ``flow`` owns the conversation."""
        return self.state.flow == flow.name

    def flow_data(self, flow: Flow[D]) -> D | None:
        """The data of ``flow`` when it owns the conversation; a flow whose stored data no
        longer fits its dataclass, or whose ``lapse`` has passed, is left."""
        if self.state.flow != flow.name:
            return None
        data = flow.load(self.state.data or {})
        if data is None or flow.lapsed(data, self.services.clock()):
            self.leave()
            return None
        return data

    def enter(self, flow: Flow[D], data: D) -> None:
        """Hand the conversation to ``flow`` (or save its changed data)."""
        self.state.flow = flow.name
        self.state.data = flow.dump(data)

    def leave(self) -> None:
        """End the current flow."""
        self.state.flow = None
        self.state.data = {}

    def keep(self, name: str, value: str | int | None) -> None:
        """Remember an attribute that outlives any flow (None forgets it)."""
        attrs = {k: v for k, v in (self.state.attrs or {}).items() if k != name}
        if value is not None:
            attrs[name] = value
        self.state.attrs = attrs

    def kept(self, name: str) -> Any:
        """An attribute remembered with ``keep``."""
        return (self.state.attrs or {}).get(name)

    @property
    def offered(self) -> list[Offered]:
        """The buttons offered in the user's last turn."""
        return Offered.all_of(self.state.last_buttons)
