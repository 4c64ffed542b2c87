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

Several processes on one PostgreSQL (webhooks behind a load balancer) may each receive turns of
one citizen. A turn with a platform event id is first recorded (``seen_events``: a duplicate
stops there) with its place in the platform's order (``seq``) and the event itself; each turn
transaction then takes its citizens' lock (``pg_advisory_xact_lock``, held until commit) and
claims every pending turn of those citizens, whichever process recorded it, and handles them in
``seq`` order: one turn of a citizen at a time anywhere, in the order the citizen sent them. A
process whose turn another one took up has nothing left to do; whoever took it delivers the
replies. A turn recorded only after a newer one of the citizen was handled is still handled,
late. SQLite serves one process: the per-user lock below is all it needs.
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
from bot.core.events import (
    ButtonPress,
    Command,
    Event,
    StaleButton,
    TextMessage,
    from_json,
    to_json,
)
from bot.core.locks import KeyedLocks
from bot.core.payloads import REF_MARK
from bot.core.ports import failure_reason
from bot.core.replies import Button, Offered, Reply, number_buttons, typed_key
from bot.core.router import Routes
from bot.core.text import MAX_INPUT, fold, nfc
from storage.models import ConversationState, User, utcnow
from storage.repos.conversation import ConversationRepo
from storage.repos.delivery import Pending, SeenEventRepo, TurnQueueRepo
from storage.repos.users import UserRepo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.content.snapshot import Snapshot
    from bot.core.ports import Capabilities, Respond
    from bot.core.services import Services

log = logging.getLogger(__name__)

ATTEMPTS = 4
BATCH_SIZE = 32  # turns in one transaction at most; a batch waits for its slowest turn
REF = re.compile(re.escape(REF_MARK) + r"(\d+)" + re.escape(REF_MARK))

Outcome = tuple[list[Reply], list[Push]]


@dataclass(frozen=True)
class Done:
    """What a turn came to: ``outcomes`` to deliver in the citizen's order (their turns that
    other processes received, taken up here, and this one) and ``own``, this turn's (None:
    another process handled it and delivers its replies)."""

    outcomes: list[Outcome]
    own: Outcome | None


@dataclass
class _Turn:
    """One event waiting for its batch; ``ticket`` is its queued row (PostgreSQL)."""

    event: Event
    caps: Capabilities
    ticket: int | None = None
    done: asyncio.Future[Done] = field(
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
        seq: int | None = None,
    ) -> list[Reply]:
        """Handle one event; events of one user run one at a time, in arrival order.

        With ``respond`` the replies are handed to it before the next event of the user starts
        (the channel's delivery, so replies keep their order too), and a turn that fails is
        answered with the apology rather than raising. With ``once``, an event whose platform
        id was seen before (by any process) is dropped: no replies; on PostgreSQL it is also
        queued in ``seq`` order with the user's turns other processes received (see the module),
        and ``respond`` gets the replies of those this process takes up, in order. While the
        content is still loading (start-up), every event gets the short "starting" reply and
        nothing else.
        """
        if not self.services.store.ready:  # the knowledge index is still building
            replies = [Reply(text=self.services.store.current.messages("fallback.starting"))]
            if respond is not None:
                await respond(replies)
            return replies
        pushes: list[Push] = []
        async with self._in_order((event.sender.channel, event.sender.external_id)):
            done = await self._done(event, caps, respond is not None, once, seq)
            for said, pushed in done.outcomes:
                pushes.extend(pushed)
                if respond is not None:
                    await respond(said)
            if respond is None and len(done.outcomes) > (done.own is not None):
                log.warning("turns taken up from other processes had nowhere to go")
        for push in pushes:
            try:
                await self.services.deliver(push.user_id, push.replies)
            except Exception as exc:
                log.exception("delivery to user %s failed", push.user_id)
                if push.if_failed is not None:
                    await self._tell_failure(push.if_failed, exc)
        return done.own[0] if done.own is not None else []

    async def _done(
        self, event: Event, caps: Capabilities, apologise: bool, once: str | None, seq: int | None
    ) -> Done:
        """The turn under the user's lock: the duplicate check, then the turn; a failure is
        the apology (with ``apologise``) and its queued row is given up."""
        ticket = None
        try:
            if once is not None:
                fresh, ticket = await self._first_time(event, once, seq)
                if not fresh:
                    return Done([], None)
            return await self._outcome(event, caps, ticket)
        except Exception:
            if ticket is not None:
                await self._give_up(ticket)
            if not apologise:
                raise
            log.exception("a %s turn failed in the core", event.sender.channel)
            apology = [Reply(text=self.services.store.current.messages("fallback.error"))]
            return Done([(apology, [])], (apology, []))

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

    async def _first_time(
        self, event: Event, event_id: str, seq: int | None
    ) -> tuple[bool, int | None]:
        """Record a platform event id, retried on a locked database like a turn: whether it
        is new, and on PostgreSQL the queued turn's row (the event's ticket)."""
        channel = event.sender.channel
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self.services.db.transaction() as session:
                    if self.services.db.is_sqlite:
                        return await SeenEventRepo(session).first_time(channel, event_id), None
                    ticket = await TurnQueueRepo(session).record(
                        channel, event_id, event.sender.external_id, seq, to_json(event)
                    )
                    return ticket is not None, ticket
            except OperationalError as exc:
                text = str(exc).lower()
                if attempt == ATTEMPTS or ("locked" not in text and "deadlock" not in text):
                    raise
                log.info("the duplicate check met a busy database; retrying")
                await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    async def _give_up(self, ticket: int) -> None:
        """A queued turn that failed is not taken up again by a later one (errors logged)."""
        try:
            async with self.services.db.transaction() as session:
                await TurnQueueRepo(session).settle(ticket)
        except Exception:
            log.exception("a failed turn could not be marked handled")

    async def _outcome(self, event: Event, caps: Capabilities, ticket: int | None) -> Done:
        """The turn's replies and pushes: typed commands alone, anything else in a batch."""
        if isinstance(event, TextMessage) and event.text.lstrip().startswith("/"):
            return await self._alone(event, caps, ticket)
        turn = _Turn(event, caps, ticket)
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
                    await self._turns([(t.event, t.caps, t.ticket) for t in batch])
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
                    turn.done.set_result(await self._alone(turn.event, turn.caps, turn.ticket))
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

    async def _alone(self, event: Event, caps: Capabilities, ticket: int | None) -> Done:
        """One turn in its own transaction; a conflicting write is retried. The last attempt
        takes up no other process's turn (one of them may be what keeps failing)."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return (await self._turns([(event, caps, ticket)], others=attempt < ATTEMPTS))[0]
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

    async def _turns(
        self, items: Sequence[tuple[Event, Capabilities, int | None]], *, others: bool = True
    ) -> list[Done]:
        """Handle events of different users in one transaction; all or nothing is kept.

        On PostgreSQL the users' turns are locked first and their pending turns claimed (see
        the module); a user with several runs them one per round, oldest first.
        """
        snapshot = self.services.store.current
        async with self.services.db.transaction() as session:
            queues = await self._queues(session, items, others)
            outcomes: list[list[Outcome]] = [[] for _ in items]
            owns: list[Outcome | None] = [None for _ in items]
            for depth in range(max(len(q) for q in queues)):
                picked = [(i, q[depth]) for i, q in enumerate(queues) if len(q) > depth]
                events = [(event, items[i][1]) for i, (event, _) in picked]
                results = await self._round(session, snapshot, events)
                for (i, (_, own)), result in zip(picked, results, strict=True):
                    outcomes[i].append(result)
                    if own:
                        owns[i] = result
        return [Done(o, own) for o, own in zip(outcomes, owns, strict=True)]

    async def _queues(
        self,
        session: AsyncSession,
        items: Sequence[tuple[Event, Capabilities, int | None]],
        others: bool,
    ) -> list[list[tuple[Event, bool]]]:
        """Each item's events to run, oldest first, each with whether it is the item's own.

        On SQLite, or without a ticket, just the item's event. On PostgreSQL: the users'
        locks, then their claimed pending turns; an own turn not among them was handled by
        another process (none to run but any newer ones pending).
        """
        if self.services.db.is_sqlite:
            return [[(event, True)] for event, _, _ in items]
        queue = TurnQueueRepo(session)
        await queue.lock([(e.sender.channel, e.sender.external_id) for e, _, _ in items])
        ticketed = [(e, t) for e, _, t in items if t is not None]
        claimed: dict[tuple[str, str], list[Pending]] = {}
        if ticketed:
            citizens = sorted({(e.sender.channel, e.sender.external_id) for e, _ in ticketed})
            taken = await queue.claim(citizens, [t for _, t in ticketed], others=others)
            for pending in taken:
                claimed.setdefault((pending.channel, pending.address), []).append(pending)
        queues: list[list[tuple[Event, bool]]] = []
        for event, _, ticket in items:
            if ticket is None:
                queues.append([(event, True)])
                continue
            runs: list[tuple[Event, bool]] = []
            for pending in claimed.get((event.sender.channel, event.sender.external_id), []):
                if pending.id == ticket:
                    runs.append((event, True))
                    continue
                other = from_json(pending.channel, pending.address, pending.event or {})
                if other is None:
                    log.warning("a queued turn could not be read; dropped")
                    continue
                runs.append((other, False))
            queues.append(runs)
        return queues

    async def _round(
        self,
        session: AsyncSession,
        snapshot: Snapshot,
        events: Sequence[tuple[Event, Capabilities]],
    ) -> list[Outcome]:
        """Handle events of different users in the session's transaction."""
        conversation = ConversationRepo(session)
        senders = [
            (e.sender.channel, e.sender.external_id, e.sender.display_name) for e, _ in events
        ]
        users = await UserRepo(session).seen_many(senders)
        states = await conversation.load(u.id for u in users.values())
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
        kept: list[ConversationState] = []
        for ctx in contexts:
            if inspect(ctx.user).deleted or inspect(ctx.user).was_deleted:
                # The user's data was just erased: keep nothing, offer no buttons.
                replies = [replace(r, buttons=()) for r in ctx.replies]
                outcomes.append((replies, list(ctx.pushes)))
                continue
            replies = with_refs(ctx.replies, ctx.refs)
            replies = await tokenise(replies, ctx.user.id, ctx.state, conversation)
            kept.append(ctx.state)
            outcomes.append((replies, list(ctx.pushes)))
        await session.flush()
        await conversation.save(kept, utcnow())  # every turn moves its state's version on
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
