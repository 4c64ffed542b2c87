"""Delivery to a user outside their own turn: answers from their team, broadcasts."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot.core.dispatcher import tokenise
from bot.core.ports import Unreachable
from bot.core.replies import Reply
from storage.db import Database
from storage.models import User
from storage.repos.conversation import ConversationRepo
from storage.repos.users import UserRepo

if TYPE_CHECKING:
    from bot.core.ports import Outbound

log = logging.getLogger(__name__)


class UnknownRecipient(Exception):
    """The user does not exist, or their channel is not running in this process."""


class Delivery:
    """Sends replies to a user by id, on that user's channel, with buttons they can press.

    The unreachable policy for pushes lives here, the same for every channel: a user who
    blocked the bot gets no push (the platform is not called) until they write again, and a
    platform that answers "blocked" marks them so.
    """

    def __init__(self, db: Database, channels: Mapping[str, Outbound]) -> None:
        self.db = db
        self.channels = channels

    async def prepare(self, user_id: int, replies: Sequence[Reply]) -> tuple[User, list[Reply]]:
        """Record the buttons as offered to the user; returns the user and tokenised replies."""
        async with self.db.transaction() as session:
            user = await UserRepo(session).get(user_id)
            if user is None:
                raise UnknownRecipient(f"user {user_id} does not exist")
            conversation = ConversationRepo(session)
            state = await conversation.state(user.id)
            ready = await tokenise(replies, user.id, state, conversation)
        return user, ready

    async def __call__(self, user_id: int, replies: Sequence[Reply]) -> None:
        """Deliver now. Raises the channel's errors (RetryAfter, Unreachable, DeliveryError)."""
        user, ready = await self.prepare(user_id, replies)
        channel = self.channels.get(user.channel)
        if channel is None:
            raise UnknownRecipient(f"channel {user.channel} is not running")
        if user.unreachable_at is not None:
            raise Unreachable(f"user {user.id} blocked the bot")
        try:
            await channel.send(user.external_id, ready)
        except Unreachable:
            async with self.db.transaction() as session:
                await UserRepo(session).mark_unreachable(user_id)
            raise
