"""The core pipeline: an inbound event in, replies out, state saved in between.

For each event: find the user, load their state, resolve what they meant (a button token, a
numbered choice on a text-only channel, a command or an intent phrase), route it to a handler,
swap button payloads for short tokens, and commit, all in one transaction. A conflicting
write from another process serving the same user is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from bot.core.context import Context, Push
from bot.core.events import ButtonPress, Command, Event, StaleButton, TextMessage
from bot.core.locks import KeyedLocks
from bot.core.replies import Button, Reply, number_buttons
from bot.core.router import Routes
from bot.core.text import fold, nfc
from storage.models import ConversationState, User, utcnow
from storage.repos.conversation import ConversationRepo
from storage.repos.users import UserRepo

if TYPE_CHECKING:
    from bot.channels.base import Capabilities
    from bot.core.services import Services

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # longer messages are cut before matching; nobody types more in a chat
ATTEMPTS = 4


class Dispatcher:
    """Turns events into replies. One instance serves every channel."""

    def __init__(self, routes: Routes, services: Services) -> None:
        self.routes = routes
        self.services = services
        self._in_order = KeyedLocks()

    async def handle(self, event: Event, caps: Capabilities) -> list[Reply]:
        """Handle one event; events of one user run one at a time, in arrival order."""
        async with self._in_order((event.sender.channel, event.sender.external_id)):
            return await self._handle_with_retries(event, caps)

    async def _handle_with_retries(self, event: Event, caps: Capabilities) -> list[Reply]:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                replies, pushes = await self._handle_once(event, caps)
            except (StaleDataError, IntegrityError, OperationalError) as exc:
                if attempt == ATTEMPTS or (
                    isinstance(exc, OperationalError)
                    and "locked" not in str(exc).lower()
                    and "deadlock" not in str(exc).lower()
                ):
                    raise
                log.info("concurrent update for one user; retrying (%s)", type(exc).__name__)
                await asyncio.sleep(0.01 * attempt)
                continue
            for push in pushes:
                try:
                    await self.services.deliver(push.user_id, push.replies)
                except Exception:
                    log.exception("delivery to user %s failed", push.user_id)
            return replies
        raise AssertionError("unreachable")

    async def _handle_once(
        self, event: Event, caps: Capabilities
    ) -> tuple[list[Reply], list[Push]]:
        snapshot = self.services.store.current
        async with self.services.db.transaction() as session:
            sender = event.sender
            user = await UserRepo(session).seen(
                sender.channel, sender.external_id, sender.display_name
            )
            conversation = ConversationRepo(session)
            state = await conversation.state(user.id)
            resolved = await self._resolve(event, user, state, conversation, caps)
            ctx = Context(
                event=resolved,
                user=user,
                state=state,
                session=session,
                content=snapshot,
                services=self.services,
                caps=caps,
            )
            await self.routes.dispatch(ctx)
            if inspect(user).deleted or inspect(user).was_deleted:
                # The user's data was just erased: keep nothing, offer no buttons.
                return [replace(r, buttons=()) for r in ctx.replies], list(ctx.pushes)
            replies = await tokenise(ctx.replies, user.id, state, conversation)
            state.updated_at = utcnow()
            await session.flush()
        return replies, list(ctx.pushes)

    async def _resolve(
        self,
        event: Event,
        user: User,
        state: ConversationState,
        conversation: ConversationRepo,
        caps: Capabilities,
    ) -> Event:
        """Work out what the user meant."""
        if isinstance(event, ButtonPress):
            payload = await conversation.payload(user.id, event.payload)
            if payload is None:
                return StaleButton(sender=event.sender, token=event.payload[:32])
            return ButtonPress(sender=event.sender, payload=payload)
        if not isinstance(event, TextMessage):
            return event
        text = nfc(event.text).strip()[:MAX_TEXT]
        event = replace(event, text=text)
        if text.startswith("/") and len(text) > 1:
            name, _, arg = text[1:].partition(" ")
            name = name.split("@", 1)[0].lower()
            return Command(sender=event.sender, name=name, arg=arg.strip())
        pressed = self._pressed(text, state.last_buttons, caps)
        if pressed is not None:
            return ButtonPress(sender=event.sender, payload=pressed)
        intent = self.services.store.current.intents.match(text)
        if intent is not None:
            return Command(sender=event.sender, name=intent)
        return event

    @staticmethod
    def _pressed(text: str, last_buttons: Sequence[object], caps: Capabilities) -> str | None:
        """The payload of the last turn's button that ``text`` names, by key or by label."""
        folded = fold(text)
        if not folded and not text:
            return None
        for item in last_buttons:
            if not isinstance(item, list) or len(item) != 3:
                continue
            key, label, payload = item
            if not caps.buttons and text.strip().rstrip(".)").upper() == str(key):
                return str(payload)
            if folded and folded == label:
                return str(payload)
        return None


async def tokenise(
    replies: Sequence[Reply],
    user_id: int,
    state: ConversationState,
    conversation: ConversationRepo,
) -> list[Reply]:
    """Swap payloads for tokens the user was really offered, and remember the last turn."""
    keyed = number_buttons(replies)
    if not keyed:
        return list(replies)
    tokens = iter(await conversation.offer(user_id, [k.button.payload for k in keyed]))
    state.last_buttons = [[k.key, fold(k.button.label), k.button.payload] for k in keyed]
    out = []
    for reply in replies:
        buttons = tuple(Button(b.label, next(tokens)) for b in reply.buttons)
        out.append(replace(reply, buttons=buttons))
    return out
