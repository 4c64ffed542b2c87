"""The core pipeline: an inbound event in, replies out, state saved in between.

For each event: find the user, load their state, resolve what they meant (a button token, a
numbered choice on a text-only channel, a command or an intent phrase), route it to a handler,
swap button payloads for short tokens, and commit.

Turns that arrive together are handled together (group commit): one transaction, the users,
states and pressed buttons of all of them loaded with one query each, the handlers run one
after the other, and everything written with one flush and one commit. Per turn that saves the
round trips and the commit that dominate a turn's cost (a turn's own work, the matching
included, is well under a millisecond). One user's events never share a batch: they run one at
a time, in arrival order. When a batch fails (a handler's bug, a conflicting write from another
process), nothing of it is kept and each of its turns runs again alone, with retries, so one
bad turn costs the others nothing. Typed commands ("/reload", "/start ...") always run alone:
they may be slow, and a batch waits for its slowest turn.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from bot.core.context import Context, Push, Receipt
from bot.core.events import ButtonPress, Command, Event, StaleButton, TextMessage
from bot.core.locks import KeyedLocks
from bot.core.payloads import REF_MARK
from bot.core.ports import failure_reason
from bot.core.replies import Button, Offered, Reply, number_buttons, typed_key
from bot.core.router import Routes
from bot.core.text import MAX_INPUT, fold, nfc
from storage.models import ConversationState, User, utcnow
from storage.repos.conversation import ConversationRepo
from storage.repos.delivery import SeenEventRepo
from storage.repos.users import UserRepo

if TYPE_CHECKING:
    from bot.core.ports import Capabilities, Respond
    from bot.core.services import Services

log = logging.getLogger(__name__)

ATTEMPTS = 4
BATCH_SIZE = 32  # turns in one transaction at most; a batch waits for its slowest turn
REF = re.compile(re.escape(REF_MARK) + r"(\d+)" + re.escape(REF_MARK))

Outcome = tuple[list[Reply], list[Push]]


@dataclass
class _Turn:
    """One event waiting for its batch."""

    event: Event
    caps: Capabilities
    done: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Dispatcher:
    """Turns events into replies. One instance serves every channel."""

    def __init__(self, routes: Routes, services: Services, *, batch_size: int = BATCH_SIZE) -> None:
        self.routes = routes
        self.services = services
        self.batch_size = max(1, batch_size)
        self._in_order = KeyedLocks()
        self._waiting: list[_Turn] = []
        self._current: list[_Turn] = []
        self._runner: asyncio.Task[None] | None = None

    async def handle(
        self,
        event: Event,
        caps: Capabilities,
        *,
        respond: Respond | None = None,
        once: str | None = None,
    ) -> list[Reply]:
        """Handle one event; events of one user run one at a time, in arrival order.

        With ``respond`` the replies are handed to it before the next event of the user starts
        (the channel's delivery, so replies keep their order too), and a turn that fails is
        answered with the apology rather than raising. With ``once``, an event whose platform
        id was seen before (by any process) is dropped: no replies. While the content is
        still loading (start-up), every event gets the short "starting" reply and nothing else.
        """
        if not self.services.store.ready:  # the knowledge index is still building
            replies = [Reply(text=self.services.store.current.messages("fallback.starting"))]
            if respond is not None:
                await respond(replies)
            return replies
        pushes: list[Push] = []
        async with self._in_order((event.sender.channel, event.sender.external_id)):
            try:
                if once is not None and not await self._first_time(event.sender.channel, once):
                    return []
                replies, pushes = await self._outcome(event, caps)
            except Exception:
                if respond is None:
                    raise
                log.exception("a %s turn failed in the core", event.sender.channel)
                replies = [Reply(text=self.services.store.current.messages("fallback.error"))]
            if respond is not None:
                await respond(replies)
        for push in pushes:
            try:
                await self.services.deliver(push.user_id, push.replies)
            except Exception as exc:
                log.exception("delivery to user %s failed", push.user_id)
                if push.if_failed is not None:
                    await self._tell_failure(push.if_failed, exc)
        return replies

    async def _tell_failure(self, receipt: Receipt, exc: Exception) -> None:
        """Tell the sender of a push that it was not delivered (once; errors only logged)."""
        messages = self.services.store.current.messages
        key = f"{receipt.key}_{failure_reason(exc)}"
        if not messages.has(key):
            key = f"{receipt.key}_error"
        try:
            text = messages(key, **dict(receipt.values))
            await self.services.deliver(receipt.user_id, [Reply(text=text)])
        except Exception:
            log.exception("could not tell user %s that a push failed", receipt.user_id)

    async def _first_time(self, channel: str, event_id: str) -> bool:
        """Record a platform event id, retried on a locked database like a turn."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self.services.db.transaction() as session:
                    return await SeenEventRepo(session).first_time(channel, event_id)
            except OperationalError as exc:
                text = str(exc).lower()
                if attempt == ATTEMPTS or ("locked" not in text and "deadlock" not in text):
                    raise
                log.info("the duplicate check met a busy database; retrying")
                await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    async def _outcome(self, event: Event, caps: Capabilities) -> Outcome:
        """The turn's replies and pushes: typed commands alone, anything else in a batch."""
        if isinstance(event, TextMessage) and event.text.lstrip().startswith("/"):
            return await self._alone(event, caps)
        turn = _Turn(event, caps)
        self._waiting.append(turn)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run_batches(), name="turns")
            self._runner.add_done_callback(self._runner_ended)
        return await asyncio.shield(turn.done)

    async def _run_batches(self) -> None:
        """Handle waiting turns, a batch at a time, until none wait."""
        while self._waiting:
            batch = self._current = self._waiting[: self.batch_size]
            del self._waiting[: self.batch_size]
            try:
                outcomes = (
                    await self._turns([(t.event, t.caps) for t in batch])
                    if len(batch) > 1
                    else None
                )
            except Exception as exc:
                log.info("a batch of %d turns failed (%s); each runs alone", len(batch), exc)
                outcomes = None
            if outcomes is not None:
                for turn, outcome in zip(batch, outcomes, strict=True):
                    turn.done.set_result(outcome)
                continue
            for turn in batch:
                try:
                    turn.done.set_result(await self._alone(turn.event, turn.caps))
                except Exception as exc:
                    turn.done.set_exception(exc)

    def _runner_ended(self, runner: asyncio.Task[None]) -> None:
        """The runner stopped (cancelled as the application shuts down): nobody may wait on."""
        if runner is not self._runner or not (runner.cancelled() or runner.exception()):
            return  # finished its work (a newer runner may already serve new turns)
        for turn in [*self._current, *self._waiting]:
            if not turn.done.done():
                turn.done.set_exception(RuntimeError("the bot is stopping"))
        self._current = []
        self._waiting.clear()

    async def _alone(self, event: Event, caps: Capabilities) -> Outcome:
        """One turn in its own transaction; a conflicting write is retried."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return (await self._turns([(event, caps)]))[0]
            except (StaleDataError, IntegrityError, OperationalError) as exc:
                if attempt == ATTEMPTS or (
                    isinstance(exc, OperationalError)
                    and "locked" not in str(exc).lower()
                    and "deadlock" not in str(exc).lower()
                ):
                    raise
                log.info("concurrent update for one user; retrying (%s)", type(exc).__name__)
                await asyncio.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    async def _turns(self, events: Sequence[tuple[Event, Capabilities]]) -> list[Outcome]:
        """Handle events of different users in one transaction; all or nothing is kept."""
        snapshot = self.services.store.current
        async with self.services.db.transaction() as session:
            conversation = ConversationRepo(session)
            senders = [
                (e.sender.channel, e.sender.external_id, e.sender.display_name) for e, _ in events
            ]
            users = await UserRepo(session).seen_many(senders)
            states = await conversation.states(u.id for u in users.values())
            pressed = await conversation.payloads(
                (users[e.sender.channel, e.sender.external_id].id, e.payload)
                for e, _ in events
                if isinstance(e, ButtonPress)
            )
            contexts = []
            for event, caps in events:
                user = users[event.sender.channel, event.sender.external_id]
                state = states[user.id]
                ctx = Context(
                    event=self._resolve(event, user, state, pressed, caps),
                    user=user,
                    state=state,
                    session=session,
                    content=snapshot,
                    services=self.services,
                    caps=caps,
                )
                await self.routes.dispatch(ctx)
                contexts.append(ctx)
            await session.flush()  # new rows get their ids (Context.ref)
            outcomes: list[Outcome] = []
            for ctx in contexts:
                if inspect(ctx.user).deleted or inspect(ctx.user).was_deleted:
                    # The user's data was just erased: keep nothing, offer no buttons.
                    replies = [replace(r, buttons=()) for r in ctx.replies]
                    outcomes.append((replies, list(ctx.pushes)))
                    continue
                replies = with_refs(ctx.replies, ctx.refs)
                replies = await tokenise(replies, ctx.user.id, ctx.state, conversation)
                ctx.state.updated_at = utcnow()
                outcomes.append((replies, list(ctx.pushes)))
            await session.flush()
        return outcomes

    def _resolve(
        self,
        event: Event,
        user: User,
        state: ConversationState,
        pressed: dict[tuple[int, str], str],
        caps: Capabilities,
    ) -> Event:
        """Work out what the user meant."""
        if isinstance(event, ButtonPress):
            payload = pressed.get((user.id, event.payload))
            if payload is None:
                return StaleButton(sender=event.sender, token=event.payload[:32])
            return ButtonPress(sender=event.sender, payload=payload)
        if not isinstance(event, TextMessage):
            return event
        text = nfc(event.text).strip()[:MAX_INPUT]
        event = replace(event, text=text)
        if text.startswith("/") and len(text) > 1:
            name, _, arg = text[1:].partition(" ")
            name = name.split("@", 1)[0].lower()
            return Command(sender=event.sender, name=name, arg=arg.strip())
        pressed_label = self._pressed(text, Offered.all_of(state.last_buttons), caps)
        if pressed_label is not None:
            return ButtonPress(sender=event.sender, payload=pressed_label)
        intent = self.services.store.current.intents.match(text)
        if intent is not None:
            return Command(sender=event.sender, name=intent)
        return event

    @staticmethod
    def _pressed(text: str, offered: Sequence[Offered], caps: Capabilities) -> str | None:
        """The payload of the last turn's button that ``text`` names, by key or by label."""
        folded = fold(text)
        if not folded and not text:
            return None
        typed = None if caps.buttons else typed_key(text)
        for button in offered:
            if typed == button.key or (folded and folded == button.label):
                return button.payload
        return None


def with_refs(replies: Sequence[Reply], refs: Sequence[Any]) -> list[Reply]:
    """Replies whose payloads name rows by ``Context.ref``, with the rows' ids put in."""
    if not refs:
        return list(replies)

    def fill(payload: str) -> str | None:
        ids = [getattr(refs[int(m.group(1))], "id", None) for m in REF.finditer(payload)]
        if None in ids:
            return None
        values = iter(ids)
        return REF.sub(lambda _: str(next(values)), payload)

    out = []
    for reply in replies:
        buttons = []
        for button in reply.buttons:
            payload = fill(button.payload)
            if payload is None:
                log.error("a button names a row that was never written; left out")
                continue
            buttons.append(Button(button.label, payload))
        out.append(replace(reply, buttons=tuple(buttons)))
    return out


async def tokenise(
    replies: Sequence[Reply],
    user_id: int,
    state: ConversationState,
    conversation: ConversationRepo,
) -> list[Reply]:
    """Swap payloads for tokens the user was really offered, and remember the last turn."""
    out, last = await offer(replies, user_id, conversation)
    if last is not None:
        state.last_buttons = last
    return out


async def offer(
    replies: Sequence[Reply], user_id: int, conversation: ConversationRepo
) -> tuple[list[Reply], list[list[str]] | None]:
    """Swap payloads for tokens the user was really offered; also what to store as the
    state's ``last_buttons`` (None when the replies have no buttons: keep the last turn's)."""
    keyed = number_buttons(replies)
    if not keyed:
        return list(replies), None
    tokens = iter(await conversation.offer(user_id, [k.button.payload for k in keyed]))
    last = [Offered(k.key, fold(k.button.label), k.button.payload).to_json() for k in keyed]
    out = []
    for reply in replies:
        buttons = tuple(Button(b.label, next(tokens)) for b in reply.buttons)
        out.append(replace(reply, buttons=buttons))
    return out, last
