"""Retention: finished broadcast deliveries and old question log rows deleted by age, in batches.

Each call deletes at most ``limit`` rows in the caller's (short) transaction; housekeeping
(``bot/core/housekeeping.py``) calls again in a new transaction until nothing is left. No list
parameter: the rows are chosen by a subquery (``id IN (SELECT … LIMIT n)``; on PostgreSQL
``id = ANY((SELECT array_agg(id) FROM (SELECT … LIMIT n)))``, see ``_chosen``).

Reports stay the same: a broadcast's pruned deliveries are counted into ``Broadcast.archived``
(by state and reason) in the transaction that deletes them, from the rows the DELETE returned,
so each row is counted exactly once even when several processes prune together (the broadcast's
row is locked first on PostgreSQL; SQLite has one writer). The question log views look back
``QUESTION_VIEW_DAYS`` (30) days and the retention is at least that (``bot/config.py``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Integer, Select, any_, cast, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Broadcast, BroadcastDelivery, QuestionLog
from storage.models.broadcasts import CANCELLED, DONE, FINAL_STATES
from storage.repos.lists import is_pg

D = BroadcastDelivery


def _chosen(column: Any, chosen: Select[int], pg: bool) -> Any:
    """``column IN (chosen)``. On PostgreSQL ``= ANY((SELECT array_agg(id) FROM chosen))``: the
    ids are gathered once (an InitPlan) and fetched through the primary key; with ``IN`` the
    planner hashed them and read the whole table for every batch (EXPLAIN ANALYZE: a seq scan
    of 200,000 rows, 170-270 ms per batch of 1,000)."""
    if not pg:
        return column.in_(chosen.scalar_subquery())
    inner = chosen.subquery()
    ids = select(func.array_agg(inner.c.id)).scalar_subquery()
    return column == any_(cast(ids, ARRAY(Integer)))  # the cast: ANY(array), not ANY(subquery)


async def prune_deliveries(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` final deliveries of one broadcast that ended before ``before``,
    after adding them to its ``archived`` counts; returns how many rows went (0: none left)."""
    final = D.state.in_(FINAL_STATES)
    query = (
        select(Broadcast)
        .where(
            Broadcast.status.in_((DONE, CANCELLED)),
            Broadcast.finished_at < before,
            exists().where(D.broadcast_id == Broadcast.id, final),
        )
        .order_by(Broadcast.id)
        .limit(1)
    )
    if is_pg(session):
        query = query.with_for_update(skip_locked=True)  # another process prunes that one
    broadcast = (await session.execute(query)).scalar_one_or_none()
    if broadcast is None:
        return 0
    # Any order: every final row of the broadcast goes. No sort, so a batch reads ``limit``
    # entries of the broadcast_id index, not all of the broadcast's rows.
    chosen = select(D.id).where(D.broadcast_id == broadcast.id, final).limit(limit)
    result = await session.execute(
        delete(D).where(_chosen(D.id, chosen, is_pg(session)), final).returning(D.state, D.reason)
    )
    gone = Counter(f"{state}:{reason or ''}" for state, reason in result.all())
    if gone:
        counts = Counter(broadcast.archived or {})
        counts.update(gone)
        broadcast.archived = dict(sorted(counts.items()))  # a new dict: the JSON is rewritten
        await session.flush()
    return sum(gone.values())


async def prune_questions(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` question log rows written before ``before`` (oldest first)."""
    # Oldest first along the created_at index, which the scan stops reading after ``limit``.
    chosen = (
        select(QuestionLog.id)
        .where(QuestionLog.created_at < before)
        .order_by(QuestionLog.created_at)
        .limit(limit)
    )
    result = await session.execute(
        delete(QuestionLog)
        .where(_chosen(QuestionLog.id, chosen, is_pg(session)))
        .returning(QuestionLog.id)
    )
    return len(result.all())
