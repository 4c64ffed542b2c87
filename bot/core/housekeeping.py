"""Periodic clean-up of short-lived rows: old button tokens and seen platform event ids."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from storage.db import Database
from storage.models import utcnow
from storage.repos.conversation import ConversationRepo
from storage.repos.dashboard import DashboardRepo
from storage.repos.delivery import SeenEventRepo

log = logging.getLogger(__name__)

BUTTONS_KEPT = timedelta(days=30)  # a button older than this answers "this button is old"
EVENTS_KEPT = timedelta(days=2)  # platforms redeliver within minutes, not days
DASHBOARD_KEPT = timedelta(days=1)  # expired dashboard links, sessions, sign-in attempts


async def clean_once(db: Database) -> int:
    """Delete expired rows; returns how many button tokens went."""
    now = utcnow()
    async with db.transaction() as session:
        removed = await ConversationRepo(session).forget_offers_before(now - BUTTONS_KEPT)
        await SeenEventRepo(session).forget_before(now - EVENTS_KEPT)
        await DashboardRepo(session).purge(now, DASHBOARD_KEPT)
    return removed


async def housekeeping(db: Database, interval: float = 3600.0) -> None:
    """Clean up every ``interval`` seconds until cancelled (the first time one interval in)."""
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await clean_once(db)
            if removed:
                log.info("housekeeping removed %d old button tokens", removed)
        except Exception:
            log.exception("housekeeping failed; will retry")
