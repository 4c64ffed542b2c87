"""Conversation logic, one router per feature. Never imports telegram or any platform code."""

from __future__ import annotations

from bot.core.router import Router


def all_routers() -> list[Router]:
    """Every feature router, in priority order (order matters: earlier routers win ties)."""
    from handlers import (
        answers,
        broadcasts,
        certificates,
        citizen_card,
        dashboard_link,
        fallback,
        lessons,
        menu,
        nudges,
        privacy,
        progress,
        scamcheck,
        start,
        team_questions,
        team_tools,
        teams,
        threads,
    )

    return [
        teams.router,  # keeps a join code sent before consent; /start CODE
        start.router,  # consent guard first
        menu.router,
        lessons.router,
        progress.router,
        nudges.router,  # reminders and review answers, "tắt nhắc"
        team_tools.router,
        team_questions.router,
        threads.router,
        citizen_card.router,
        dashboard_link.router,
        privacy.router,
        broadcasts.router,
        scamcheck.router,  # pasted links and forwarded messages, before the answers
        certificates.router,
        # feature routers go here, before the fallback
        answers.router,  # the knowledge matcher: catch-all free text, last before the fallback
        fallback.router,
    ]
