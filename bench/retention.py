"""Retention: how fast housekeeping prunes finished deliveries and old question log rows, and how
long each batch's transaction (its locks) lasts.

Builds one finished broadcast to N citizens (every delivery ``sent`` or ``skipped``) and N old
question log rows in a fresh database (migrations to head, rows made in SQL), then prunes them
as housekeeping does, one transaction per ``--batch`` rows, and prints rows per second and the
min / median / max milliseconds of one batch; the broadcast's tally must be the same after.

    .venv/bin/python bench/retention.py [--database-url URL] [-n 200000] [--batch 1000]

Without ``--database-url``: SQLite in a temporary folder. On PostgreSQL use a database of its
own (it is emptied), e.g. ``createdb -h 127.0.0.1 -U postgres trolyso_hygiene``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.repos import retention  # noqa: E402
from storage.repos.broadcasts import BroadcastRepo  # noqa: E402

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=400)


def _series(pg: bool, n: int) -> str:
    """A row source of 1..n, as each database writes it."""
    if pg:
        return f"generate_series(1, {n}) AS s(i)"
    count = f"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n})"
    return f"({count} SELECT i FROM c) AS s"


async def build(db: Database, n: int) -> int:
    """N citizens, one finished broadcast to all of them, N old questions; the broadcast's id."""
    pg = db.engine.dialect.name == "postgresql"
    rows = _series(pg, n)
    async with db.transaction() as s:
        await s.execute(
            text(
                "INSERT INTO users (channel, external_id, role, consent_at, first_seen, last_seen) "
                f"SELECT 'telegram', 'u' || i, 'citizen', :t, :t, :t FROM {rows}"
            ),
            {"t": OLD},
        )
        bid = (
            await s.execute(
                text(
                    "INSERT INTO broadcasts (kind, title, body, audience, scheduled_at, "
                    "created_at, status, finished_at) VALUES ('lesson', 'b', 'b', 'all', :t, :t, "
                    "'done', :t) RETURNING id"
                ),
                {"t": OLD},
            )
        ).scalar_one()
        state = "CASE WHEN id % 10 = 0 THEN 'skipped' ELSE 'sent' END"
        reason = "CASE WHEN id % 10 = 0 THEN 'opted_out' END"
        await s.execute(
            text(
                "INSERT INTO broadcast_deliveries (broadcast_id, user_id, channel, state, reason, "
                f"attempts, next_attempt_at, updated_at) SELECT :b, id, 'telegram', {state}, "
                f"{reason}, 1, :t, :t FROM users"
            ),
            {"b": bid, "t": OLD},
        )
        await s.execute(
            text(
                "INSERT INTO question_log (user_id, channel, text, normalised, outcome, choices, "
                "score, created_at) SELECT id, 'telegram', 'hỏi', 'hoi', 'fallback', '[]', 0, :t "
                "FROM users"
            ),
            {"t": OLD},
        )
    return int(bid)


async def timed(
    db: Database, prune: Callable[[AsyncSession, datetime, int], Awaitable[int]], batch: int
) -> tuple[int, float, list[float]]:
    """Prune until nothing is left: rows, seconds, milliseconds per batch."""
    total, times = 0, []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        async with db.transaction() as s:
            removed = await prune(s, NOW - timedelta(days=90), batch)
        times.append((time.perf_counter() - t0) * 1000)
        total += removed
        if not removed:
            break
    return total, time.perf_counter() - start, times


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url)
        if db.engine.dialect.name == "postgresql":
            await db.drop_all()
            async with db.engine.begin() as conn:
                await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        await upgrade(url)
        t0 = time.perf_counter()
        bid = await build(db, args.n)
        print(
            f"{db.engine.dialect.name}: built {args.n:,} deliveries and questions in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        async with db.transaction() as s:
            before = await BroadcastRepo(s).tally(bid)
        ok = True
        for label, prune in (
            ("deliveries", retention.prune_deliveries),
            ("question log", retention.prune_questions),
        ):
            rows, seconds, ms = await timed(db, prune, args.batch)
            print(
                f"{label}: {rows:,} rows in {seconds:.2f} s ({rows / seconds:,.0f}/s); one batch "
                f"of {args.batch}: min {min(ms):.1f} / median {statistics.median(ms):.1f} / "
                f"max {max(ms):.1f} ms"
            )
            ok = ok and rows == args.n
        async with db.transaction() as s:
            after = await BroadcastRepo(s).tally(bid)
        print(f"tally before {before} after {after}: {'same' if before == after else 'DIFFERENT'}")
        await db.dispose()
        return 0 if ok and before == after else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("-n", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    sys.exit(asyncio.run(main(parser.parse_args())))
