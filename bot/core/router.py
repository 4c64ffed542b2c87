"""Routers: each feature declares which events its handlers take, aiogram-style.

Every event has one owner. An event key is a command name, a payload class, free text (within
a flow, or outside any) or a stale button (within a flow, or outside any). Registrations say
their conditions instead of a handler saying "not mine": ``roles=`` (who may reach it),
``flow=`` (only while that flow owns the conversation) and ``when=`` (a predicate). For each
set of roles a key has one plain handler, and may have ``when=`` handlers, tried first in the
order of their ``rank``; a second plain handler, or a second ``when=`` handler of the same
rank, fails start-up (``DuplicateRoute``) naming both handlers.

When no handler of a flow's key takes an event, the key outside any flow does (free text in a
lesson that is not an answer letter goes to the knowledge base), then the fallback.

Features extend each other through declared extension points (``Hook``) instead of reaching
into each other's lists: ``router.extend(hook, fn)``, read with ``ctx.extensions(hook)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.core.context import Context
from bot.core.events import ButtonPress, Command, StaleButton, TextMessage, Unsupported
from bot.core.flows import Flow
from bot.core.hooks import Hook
from bot.core.payloads import Payload
from storage.models.users import STAFF, Role

Handler = Callable[[Context], Awaitable[None]]
Gate = Callable[[Context], Awaitable[bool]]
Predicate = Callable[[Context], bool | Awaitable[bool]]
P = TypeVar("P", bound=Payload)
T = TypeVar("T")
ButtonHandler = Callable[[Context, P], Awaitable[None]]
F = TypeVar("F", bound=Handler)

ADMIN = frozenset({Role.ADMIN})
CITIZEN = frozenset({Role.CITIZEN})
__all__ = ["ADMIN", "CITIZEN", "STAFF", "DuplicateRoute", "Hook", "Router", "Routes"]


class DuplicateRoute(RuntimeError):
    """Two handlers registered for one event key: raised when the routes are put together."""


@dataclass(frozen=True)
class Route:
    """One registration: the kind of event, its key, and when it applies."""

    kind: str  # command | button | text | stale | unsupported | resume | fallback | gate
    key: str | None  # command name or payload prefix
    flow: str | None
    handler: Callable[..., Awaitable[Any]]
    roles: frozenset[Role] | None
    when: Predicate | None
    owner: str  # "router.handler", for messages
    payload: type[Payload] | None = None
    rank: int = 0  # order among the when= handlers of one key

    def allows(self, role: str) -> bool:
        """Whether a user with ``role`` may reach this handler."""
        return self.roles is None or role in self.roles

    def overlaps(self, other: Route) -> bool:
        """Whether both routes could take the same event."""
        if self.roles is None or other.roles is None:
            return True
        return bool(self.roles & other.roles)

    def describe(self) -> str:
        """The event key, as shown in a start-up error."""
        key = f" {self.key}" if self.key is not None else ""
        flow = f" in flow {self.flow}" if self.flow is not None else ""
        return f"{self.kind}{key}{flow}"

    async def applies(self, ctx: Context) -> bool:
        """Whether the route's role and predicate let it take this event."""
        if not self.allows(ctx.user.role):
            return False
        if self.when is None:
            return True
        verdict = self.when(ctx)
        return bool(await verdict) if inspect.isawaitable(verdict) else bool(verdict)


def _roles(roles: Iterable[Role] | None) -> frozenset[Role] | None:
    return frozenset(roles) if roles is not None else None


class Router:
    """A feature's handlers, flows and extensions."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.routes: list[Route] = []
        self.flows: list[Flow[Any]] = []
        self.extensions: list[tuple[Hook[Any], Any]] = []

    def _add(
        self,
        kind: str,
        key: str | None,
        *,
        flow: Flow[Any] | None = None,
        roles: Iterable[Role] | None = None,
        when: Predicate | None = None,
        payload: type[Payload] | None = None,
        rank: int = 0,
    ) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
        def register(handler: Callable[..., Awaitable[Any]]) -> Any:
            owner = f"{self.name}.{getattr(handler, '__name__', repr(handler))}"
            name = flow.name if flow is not None else None
            route = Route(kind, key, name, handler, _roles(roles), when, owner, payload, rank)
            self.routes.append(route)
            return handler

        return register

    def gate(self) -> Callable[[Gate], Gate]:
        """Runs before routing on every event; returning True stops the event there (the one
        gate is consent, handlers/start.py)."""
        return self._add("gate", None)

    def command(
        self,
        *names: str,
        flow: Flow[Any] | None = None,
        roles: Iterable[Role] | None = None,
        when: Predicate | None = None,
    ) -> Callable[[F], F]:
        """Handles ``/name`` and the intent phrases of ``name`` (see content/intents.yaml).

        A handler that also takes a button is ``async def h(ctx, pressed: X | None = None)``
        with ``@router.button(X)`` above ``@router.command(...)``."""

        def register(handler: F) -> F:
            for name in names:
                self._add("command", name, flow=flow, roles=roles, when=when)(handler)
            return handler

        return register

    def button(
        self,
        payload: type[P],
        *,
        roles: Iterable[Role] | None = None,
        when: Predicate | None = None,
    ) -> Callable[[ButtonHandler[P]], ButtonHandler[P]]:
        """Handles presses of buttons carrying ``payload``; the handler gets it parsed."""
        return self._add("button", payload.prefix, roles=roles, when=when, payload=payload)

    def text(
        self,
        flow: Flow[Any] | None = None,
        *,
        roles: Iterable[Role] | None = None,
        when: Predicate | None = None,
        rank: int = 0,
    ) -> Callable[[Handler], Handler]:
        """Handles free text: within ``flow`` when given, else text outside any flow's taking."""
        return self._add("text", None, flow=flow, roles=roles, when=when, rank=rank)

    def stale(
        self, flow: Flow[Any] | None = None, *, when: Predicate | None = None
    ) -> Callable[[Handler], Handler]:
        """Handles presses of buttons that are no longer (or never were) offered, or malformed."""
        return self._add("stale", None, flow=flow, when=when)

    def unsupported(self) -> Callable[[Handler], Handler]:
        """Handles stickers, voice, images and other things the bot cannot read."""
        return self._add("unsupported", None)

    def resume(self, flow: Flow[Any]) -> Callable[[Handler], Handler]:
        """Adds an offer to continue ``flow`` after a free question answered in the middle of it."""
        return self._add("resume", None, flow=flow)

    def fallback(self) -> Callable[[Handler], Handler]:
        """Handles whatever nothing else took."""
        return self._add("fallback", None)

    def flow(self, flow: Flow[Any]) -> Flow[Any]:
        """Declare a flow this feature owns."""
        self.flows.append(flow)
        return flow

    def extend(self, hook: Hook[T], contribution: T) -> None:
        """Add to another feature's extension point."""
        self.extensions.append((hook, contribution))


def check_unique(routes: Sequence[Route]) -> None:
    """One owner per event key: two plain (or two ``when=`` of one rank) registrations of one
    key whose roles overlap fail, naming both handlers."""
    seen: list[Route] = []
    for route in routes:
        for other in seen:
            same_key = (other.kind, other.key, other.flow) == (route.kind, route.key, route.flow)
            same_kind = (other.when is None) == (route.when is None)
            if same_key and same_kind and other.rank == route.rank and other.overlaps(route):
                raise DuplicateRoute(
                    f"{route.describe()} is registered twice: by {other.owner} and by {route.owner}"
                )
        seen.append(route)


class Routes:
    """All routers of the bot, checked for one owner per event, and the dispatch of one event."""

    def __init__(self, routers: Sequence[Router]) -> None:
        self.routers = list(routers)
        self.all = [route for router in self.routers for route in router.routes]
        check_unique(self.all)
        self.flows: dict[str, Flow[Any]] = {}
        for router in self.routers:
            for flow in router.flows:
                if flow.name in self.flows:
                    raise DuplicateRoute(f"flow {flow.name} is declared twice")
                self.flows[flow.name] = flow
        self._extensions: dict[Hook[Any], list[Any]] = {}
        for router in self.routers:
            for hook, contribution in router.extensions:
                self._extensions.setdefault(hook, []).append(contribution)

    def extensions(self, hook: Hook[T]) -> list[T]:
        """The contributions to ``hook``, in router order."""
        return list(self._extensions.get(hook, []))

    def _of(self, kind: str, key: str | None = None, flow: str | None = None) -> list[Route]:
        found = [r for r in self.all if (r.kind, r.key, r.flow) == (kind, key, flow)]
        return sorted(found, key=lambda r: (r.when is None, r.rank))  # conditional ones first

    def candidates(self, ctx: Context) -> list[Route]:
        """The routes that may take this event, most specific first."""
        event, flow = ctx.event, ctx.state.flow
        if isinstance(event, Command):
            scoped = self._of("command", event.name, flow) if flow else []
            return scoped + self._of("command", event.name)
        if isinstance(event, ButtonPress) and ctx.pressed is not None:
            return self._of("button", ctx.pressed.prefix)
        if isinstance(event, TextMessage):
            return (self._of("text", None, flow) if flow else []) + self._of("text")
        if isinstance(event, StaleButton):
            return (self._of("stale", None, flow) if flow else []) + self._of("stale")
        if isinstance(event, Unsupported):
            return self._of("unsupported")
        return []

    def _parse_press(self, ctx: Context) -> None:
        """A pressed payload parsed; a malformed or unknown one is a stale button."""
        event = ctx.event
        if not isinstance(event, ButtonPress):
            return
        ctx.pressed = Payload.parse(event.payload)
        if ctx.pressed is None:
            ctx.event = StaleButton(sender=event.sender, token=event.payload[:32])

    def _end_typing_flow(self, ctx: Context) -> None:
        """A flow for typing one text ends when the user does anything else."""
        flow = self.flows.get(ctx.state.flow or "")
        if flow is None or flow.keeps is None or isinstance(ctx.event, TextMessage):
            return
        if not isinstance(ctx.pressed, flow.keeps):
            ctx.leave()

    async def dispatch(self, ctx: Context) -> None:
        """Run the gate, then the first handler that takes the event, then any resume offer."""
        ctx.routes = self
        self._parse_press(ctx)
        for route in self._of("gate"):
            if await route.handler(ctx):
                return
        self._end_typing_flow(ctx)
        flow_before = ctx.state.flow
        for route in self.candidates(ctx):
            if not await route.applies(ctx):
                continue
            if route.payload is not None:
                await route.handler(ctx, ctx.pressed)
            else:
                await route.handler(ctx)
            if (
                isinstance(ctx.event, TextMessage)
                and flow_before is not None
                and route.flow != flow_before
                and ctx.state.flow == flow_before
            ):
                for resume in self._of("resume", None, flow_before):
                    await resume.handler(ctx)
            return
        for route in self._of("fallback"):
            await route.handler(ctx)
            return
