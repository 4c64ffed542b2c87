"""Periodic clean-up: old button tokens, seen platform event ids, expired dashboard rows, and
by age (``retention`` in the config) finished broadcast deliveries and the question log, and
expired report files (rows and files in ``teams.file_dir``, and files no row names)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path

from bot.config import RetentionConfig
from storage.db import Database
from storage.models import utcnow
from storage.repos import retention
from storage.repos.conversation import ConversationRepo
from storage.repos.dashboard import DashboardRepo
from storage.repos.delivery import SeenEventRepo
from storage.repos.files import FileRepo

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


async def prune_once(
    db: Database, keep: RetentionConfig, now: datetime | None = None, max_batches: int = 10_000
) -> tuple[int, int]:
    """Delete finished deliveries and question log rows past their retention, ``batch_size``
    rows per transaction (no long locks); returns (deliveries, questions) deleted."""
    now = now or utcnow()
    done = [0, 0]
    jobs = [
        (0, keep.delivery_days, retention.prune_deliveries),
        (1, keep.question_days, retention.prune_questions),
    ]
    for slot, days, prune in jobs:
        if days <= 0:
            continue
        for _ in range(max_batches):
            async with db.transaction() as session:
                removed = await prune(session, now - timedelta(days=days), keep.batch_size)
            done[slot] += removed
            if not removed:
                break
            await asyncio.sleep(0)  # let the turns in between batches
    return done[0], done[1]


async def clean_files(
    db: Database, folder: Path | None, batch: int, now: datetime | None = None
) -> int:
    """Delete expired report files (rows and files), ``batch`` per transaction, then the files
    of the folder no row names; returns how many expired files went."""
    now = now or utcnow()
    removed = 0
    while True:
        async with db.transaction() as session:
            gone = await FileRepo(session, folder).purge(now, batch)
        removed += gone
        if gone < batch:
            break
        await asyncio.sleep(0)
    async with db.transaction() as session:
        await FileRepo(session, folder).sweep(now)
    return removed


async def housekeeping(
    db: Database,
    keep: RetentionConfig | None = None,
    files: Path | None = None,
    interval: float = 3600.0,
) -> None:
    """Clean up every ``interval`` seconds until cancelled (the first time one interval in);
    ``files`` is the report files' folder (None: they are in the database)."""
    keep = keep or RetentionConfig()
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await clean_once(db)
            if removed:
                log.info("housekeeping removed %d old button tokens", removed)
            await clean_files(db, files, keep.batch_size)
            deliveries, questions = await prune_once(db, keep)
            if deliveries or questions:
                log.info(
                    "housekeeping pruned %d finished deliveries and %d question log rows",
                    deliveries,
                    questions,
                )
        except Exception:
            log.exception("housekeeping failed; will retry")
