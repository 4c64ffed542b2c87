"""The channel base, and the adapter base that every messenger channel is built on.

``Channel`` is what the app runs: HTTP routes, start and stop, and ``send`` (the core's
``Outbound``: push replies to one user). ``Adapter`` is the base of the messenger channels
(Telegram, Zalo Bot Platform, the next ones) and owns what they would otherwise each repeat:

- **The turn.** ``turn`` hands an inbound event to the core with the platform's event id
  (``once``: a redelivered event is dropped, checked inside the user's turn and retried like
  it), its place in the platform's order (``seq``: with several processes the core runs one
  user's turns in that order) and a ``respond`` callback, so the core's one per-user lock
  covers handling *and* delivering: one user's replies go out in the order their messages
  came. A turn that fails is answered with the apology.
- **Retries.** ``call`` runs one platform call. The adapter maps the platform's exception to a
  delivery error (``delivery_error``); only errors that prove nothing was delivered are
  retried (``Transient``; ``RetryAfter`` too when the platform has no rate limiter of its own),
  with growing pauses stretched by random jitter, so that processes do not retry in lockstep.
  A timeout or a connection lost after the request went out is ``Uncertain``: never retried.
- **The unreachable policy.** A turn's reply answered "blocked" marks the user through the
  core (pushes are checked and marked in ``bot.core.delivery``, the same for every channel).
- **Updates handled in the background** (a webhook answers at once, a poll goes on):
  ``spawn`` and ``settle``; at most ``concurrency`` turns deliver at once.

A subclass is its platform calls and rendering: ``deliver`` (one turn's replies to an address,
each platform call through ``call``) and ``delivery_error``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bot.core.ports import (
    Capabilities,
    Core,
    DeliveryError,
    RetryAfter,
    Transient,
    Unreachable,
)

if TYPE_CHECKING:
    from aiohttp import web

    from bot.core.events import Event
    from bot.core.replies import Reply

log = logging.getLogger(__name__)

T = TypeVar("T")


class Channel(ABC):
    """A channel. ``name`` is stored with each user (``web``, ``telegram``, ``zalo``)."""

    name: str
    capabilities: Capabilities

    def __init__(self, core: Core) -> None:
        self.core = core

    def routes(self) -> list[web.RouteDef]:
        """HTTP routes this channel serves on the shared aiohttp server (webhooks, web chat)."""
        return []

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start receiving (e.g. begin long polling). Must return quickly."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop receiving and release resources."""

    @abstractmethod
    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Send replies to a user outside their turn. Raises DeliveryError subclasses."""


@dataclass(frozen=True)
class Backoff:
    """Pauses between attempts: ``delays`` first, then doubling up to ``cap``, each stretched
    by a random fraction of up to ``jitter`` (so processes that failed together spread out)."""

    delays: tuple[float, ...] = (0.5, 1.5, 4.0)
    cap: float = 60.0
    jitter: float = 0.5

    @property
    def attempts(self) -> int:
        """Attempts of one platform call: the first, and one after each delay."""
        return len(self.delays) + 1

    def pause(self, failures: int) -> float:
        """The pause after ``failures`` failures in a row."""
        delays = self.delays or (1.0,)
        if failures <= len(delays):
            base = delays[max(failures, 1) - 1]
        else:
            base = min(self.cap, delays[-1] * 2 ** (failures - len(delays)))
        return base * (1 + random.uniform(0, self.jitter))


class Adapter(Channel):
    """The base of messenger channels: turns, retries, error mapping, unreachable policy."""

    retry_rate_limits = True  # False when the platform library paces and retries 429 itself

    def __init__(self, core: Core, *, retry: Backoff | None = None, concurrency: int = 32) -> None:
        super().__init__(core)
        self.retry = retry or Backoff()
        self._tasks: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(concurrency)

    # ---- what a platform provides -------------------------------------------------------

    @abstractmethod
    async def deliver(self, address: str, replies: Sequence[Reply]) -> None:
        """Send one turn's replies to ``address``, in order, each platform call via ``call``."""

    @abstractmethod
    def delivery_error(self, exc: Exception) -> DeliveryError | None:
        """The delivery error a platform exception means; None for one that is not the
        platform's (a bug: it propagates)."""

    # ---- shared -----------------------------------------------------------------------------

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Push replies outside the user's turn (team answers, broadcasts).

        Raises ``Unreachable``, ``RetryAfter``, ``Uncertain`` or ``DeliveryError``.
        """
        await self.deliver(external_id, replies)

    async def turn(self, event: Event, *, once: str | None = None, seq: int | None = None) -> None:
        """One inbound event, end to end: the core's turn, then its replies. Never raises.

        ``seq`` orders the user's events as the platform does (see ``Core.handle``)."""
        address = event.sender.external_id

        async def respond(replies: Sequence[Reply]) -> None:
            await self.reply(address, replies)

        try:
            await self.core.handle(event, self.capabilities, respond, once=once, seq=seq)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: an update could not be handled", self.name)

    async def reply(self, address: str, replies: Sequence[Reply]) -> None:
        """Deliver a turn's replies; a user who blocked the bot is marked. Never raises.

        At most ``concurrency`` turns are delivered at once (turns waiting for their user's
        earlier turn take no share of that).
        """
        try:
            async with self._limit:
                await self.deliver(address, replies)
        except Unreachable:
            await self.unreachable(address)
        except DeliveryError as exc:
            log.warning("%s: a reply was not delivered (%s)", self.name, exc)
        except Exception:
            log.exception("%s: a reply failed", self.name)

    async def unreachable(self, external_id: str) -> None:
        """The platform says this user blocked the bot: mark them (failures are logged)."""
        try:
            await self.core.mark_unreachable(self.name, external_id)
        except Exception:
            log.exception("%s: could not mark a user unreachable", self.name)

    async def call(self, action: Callable[[], Awaitable[T]], what: str = "send") -> T:
        """One platform call, retried only while its errors prove nothing was delivered."""
        failures = 0
        while True:
            try:
                return await action()
            except Exception as exc:
                error = self.delivery_error(exc)
                if error is None:
                    raise
                failures += 1
                if failures >= self.retry.attempts or not self.retryable(error):
                    raise error from exc
            pause = self.retry.pause(failures)
            log.info("%s: %s failed (%s); retrying in %.2fs", self.name, what, error, pause)
            await asyncio.sleep(pause)

    def retryable(self, error: DeliveryError) -> bool:
        """Whether ``call`` tries again after ``error``: only when nothing was delivered."""
        if isinstance(error, RetryAfter):
            return self.retry_rate_limits
        return isinstance(error, Transient)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` (an update's handling) in the background; ``stop`` settles it."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self, within: float | None = None) -> None:
        """Wait for the updates in hand (at most ``within`` s; what is left is cancelled)."""
        while self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=within)
            if pending and within is not None:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return
