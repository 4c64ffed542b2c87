"""Routers: each feature declares which events its handlers take, aiogram-style.

A handler is ``async def handler(ctx: Context) -> bool | None``; returning ``False`` means
"not mine", and routing goes on to the next candidate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.core.context import Context
from bot.core.events import ButtonPress, Command, StaleButton, TextMessage, Unsupported

Handler = Callable[[Context], Awaitable[bool | None]]

STAFF = frozenset({"member", "lead", "admin"})
ADMIN = frozenset({"admin"})


@dataclass(frozen=True)
class Route:
    """One registration: the kind of event, its key and who may reach it."""

    kind: str  # guard | command | button | text | stale | unsupported | resume | fallback
    key: str | None
    handler: Handler
    roles: frozenset[str] | None

    def allows(self, role: str) -> bool:
        """Whether a user with ``role`` may reach this handler."""
        return self.roles is None or role in self.roles


class Router:
    """A feature's handlers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.routes: list[Route] = []

    def _add(
        self, kind: str, key: str | None, roles: Iterable[str] | None
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            allowed = frozenset(roles) if roles is not None else None
            self.routes.append(Route(kind, key, handler, allowed))
            return handler

        return register

    def guard(self) -> Callable[[Handler], Handler]:
        """Runs before routing on every event; returning True stops the event there."""
        return self._add("guard", None, None)

    def command(
        self, *names: str, roles: Iterable[str] | None = None
    ) -> Callable[[Handler], Handler]:
        """Handles ``/name`` and the intent phrases of ``name`` (see content/intents.yaml)."""

        def register(handler: Handler) -> Handler:
            for name in names:
                self._add("command", name, roles)(handler)
            return handler

        return register

    def button(
        self, prefix: str, roles: Iterable[str] | None = None
    ) -> Callable[[Handler], Handler]:
        """Handles presses of buttons whose payload starts with ``prefix``."""
        return self._add("button", prefix, roles)

    def text(
        self, flow: str | None = None, roles: Iterable[str] | None = None
    ) -> Callable[[Handler], Handler]:
        """Handles free text: within ``flow`` when given, else text nobody in a flow took."""
        return self._add("text", flow, roles)

    def stale(self, flow: str | None = None) -> Callable[[Handler], Handler]:
        """Handles presses of buttons that are no longer (or never were) offered."""
        return self._add("stale", flow, None)

    def unsupported(self) -> Callable[[Handler], Handler]:
        """Handles stickers, voice, images and other things the bot cannot read."""
        return self._add("unsupported", None, None)

    def resume(self, flow: str) -> Callable[[Handler], Handler]:
        """Adds an offer to continue ``flow`` after a free question answered in the middle of it."""
        return self._add("resume", flow, None)

    def fallback(self) -> Callable[[Handler], Handler]:
        """Handles whatever nothing else took."""
        return self._add("fallback", None, None)


class Routes:
    """All routers of the bot, in priority order, and the dispatch of one event through them."""

    def __init__(self, routers: Sequence[Router]) -> None:
        self.routers = list(routers)
        self.all = [route for router in self.routers for route in router.routes]

    def _of(self, kind: str, key: str | None = None, *, any_key: bool = False) -> list[Route]:
        return [r for r in self.all if r.kind == kind and (any_key or r.key == key)]

    def candidates(self, ctx: Context) -> list[Route]:
        """The routes that may take this event, in order."""
        event = ctx.event
        if isinstance(event, Command):
            return self._of("command", event.name)
        if isinstance(event, ButtonPress):
            matches = [r for r in self._of("button", any_key=True) if r.key is not None]
            matches = [r for r in matches if event.payload.startswith(r.key or "")]
            return sorted(matches, key=lambda r: -len(r.key or ""))
        if isinstance(event, TextMessage):
            in_flow = self._of("text", ctx.state.flow) if ctx.state.flow else []
            return in_flow + self._of("text", None)
        if isinstance(event, StaleButton):
            in_flow = self._of("stale", ctx.state.flow) if ctx.state.flow else []
            return in_flow + self._of("stale", None)
        if isinstance(event, Unsupported):
            return self._of("unsupported")
        return []

    async def dispatch(self, ctx: Context) -> None:
        """Run guards, then the first handler that takes the event, then any resume offer."""
        role = ctx.user.role
        for route in self._of("guard"):
            if await route.handler(ctx):
                return
        flow_before = ctx.state.flow
        for route in self.candidates(ctx):
            if not route.allows(role):
                continue
            if await route.handler(ctx) is not False:
                if (
                    isinstance(ctx.event, TextMessage)
                    and flow_before is not None
                    and route.key != flow_before
                    and ctx.state.flow == flow_before
                ):
                    for resume in self._of("resume", flow_before):
                        await resume.handler(ctx)
                return
        for route in self._of("fallback"):
            if await route.handler(ctx) is not False:
                return
