"""A team member writing to a citizen outside the citizen's turn: the rules and the message.

One place for the chat (``handlers/threads.py``, ``handlers/citizen_card.py``) and the
dashboard. A message a member starts ("Nhắn cho bác") is refused, with the reason told to the
member, when the citizen said "dừng nhận tin", in quiet hours (``broadcast.quiet_start`` to
``quiet_end``), when they blocked the bot, or when the citizen is on a Zalo OA and has not
written in Zalo's 7-day window (an OA may then send only paid, pre-approved templates). An
answer in a thread the citizen started (their question, their reply) is not proactive: only
the last two rules apply. Every message carries "Trả lời tổ", so the citizen's reply reaches
the same member. Delivery is the core's (``Services.deliver``): once, never retried after an
uncertain answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.broadcast.timing import QuietHours
from bot.core.ports import failure_reason
from bot.core.replies import Button, Reply
from handlers.payloads import ThreadReply
from storage.models.zalo_oa import outside_window
from storage.repos.broadcasts import BroadcastRepo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.content.messages import Messages
    from bot.core.services import Services
    from storage.models import User

log = logging.getLogger(__name__)

REPLY_WINDOW = timedelta(hours=24)  # a citizen's typed text continues the thread this long
MAX_MESSAGE = 500  # a member's message to a citizen: short


def quiet_hours(services: Services) -> QuietHours:
    """The broadcasts' quiet hours, which member-started messages keep too."""
    c = services.config.broadcast
    return QuietHours(c.quiet_start, c.quiet_end, c.timezone)


async def refusal(
    session: AsyncSession, services: Services, citizen: User, *, proactive: bool
) -> str | None:
    """Why a member may not write to this citizen now (``opted_out``, ``quiet``,
    ``unreachable``, ``zalo_window``), or None when they may."""
    now = services.clock()
    if citizen.unreachable_at is not None:
        return "unreachable"
    if outside_window(citizen, now):
        return "zalo_window"
    if proactive:
        if await BroadcastRepo(session).opted_out(citizen.id):
            return "opted_out"
        if quiet_hours(services).active(now):
            return "quiet"
    return None


def refusal_text(messages: Messages, services: Services, reason: str, name: str) -> str:
    """What the member is told when a message may not go (or did not go)."""
    key = f"thread.refused_{reason}"
    if not messages.has(key):
        key = "thread.refused_error"
    return messages(key, name=name, quiet=quiet_hours(services).label)


def to_citizen(messages: Messages, thread_id: int, text: str) -> Reply:
    """A member's message as the citizen gets it, with "Trả lời tổ"."""
    button = Button(label=messages("thread.reply_button"), payload=ThreadReply(thread_id).pack())
    return Reply.with_buttons(text, [button])


async def deliver_now(services: Services, user_id: int, replies: Sequence[Reply]) -> str | None:
    """Deliver after the caller committed (the dashboard); None when sent, else the reason."""
    try:
        await services.deliver(user_id, replies)
    except Exception as exc:
        log.warning("outreach: delivery to user %s failed: %s", user_id, type(exc).__name__)
        return failure_reason(exc)
    return None
