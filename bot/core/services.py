"""Long-lived dependencies handed to every handler through the context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Config
    from bot.content.store import ContentStore
    from bot.core.replies import Reply
    from storage.db import Database

Deliver = Callable[[int, "Sequence[Reply]"], Awaitable[None]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _no_delivery(user_id: int, replies: Sequence[Reply]) -> None:
    raise RuntimeError("no delivery configured")


@dataclass
class Services:
    """Configuration, content, database, clock and delivery to other users."""

    config: Config
    store: ContentStore
    db: Database
    clock: Callable[[], datetime] = _utcnow
    deliver: Deliver = _no_delivery
