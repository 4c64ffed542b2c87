"""Tell admins in the chat when changed content was refused (the bot keeps the last good one)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select

from bot.content.problems import Problem
from bot.core.replies import Reply
from bot.core.services import Services
from storage.models import User

log = logging.getLogger(__name__)

SHOWN = 10  # problems listed in the chat; `trolyso validate` shows them all


class ContentAlerts:
    """A content-store listener that pushes refused reloads to every reachable admin."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, problems: Sequence[Problem]) -> None:
        """Deliver the problems of a refused reload; a successful reload says nothing."""
        if not problems:
            return
        messages = self.services.store.current.messages
        lines = "\n".join(f"- {p}" for p in problems[:SHOWN])
        more = len(problems) - SHOWN
        text = messages("admin.content_refused", count=len(problems), problems=lines)
        if more > 0:
            text += "\n" + messages("admin.content_more", count=more)
        async with self.services.db.transaction() as session:
            admins = (
                (
                    await session.execute(
                        select(User.id).where(User.role == "admin", User.unreachable_at.is_(None))
                    )
                )
                .scalars()
                .all()
            )
        for admin in admins:
            try:
                await self.services.deliver(admin, [Reply(text=text)])
            except Exception as exc:  # one admin's channel must not stop the others
                log.warning(
                    "could not tell admin %s about refused content: %s", admin, type(exc).__name__
                )
