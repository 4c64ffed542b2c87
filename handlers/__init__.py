"""Conversation logic, one router per feature. Never imports telegram or any platform code."""

from __future__ import annotations

from bot.core.router import Router


def all_routers() -> list[Router]:
    """Every feature router, in priority order (order matters: earlier routers win ties)."""
    from handlers import fallback, lessons, menu, progress, start

    return [
        start.router,  # consent guard first
        menu.router,
        lessons.router,
        progress.router,
        # feature routers go here, before the fallback
        fallback.router,
    ]
