"""Shared send lanes on PostgreSQL: N bot processes sending one broadcast at one lane's rate.

Starts ``--processes`` bot processes (``tests/broadcast_child.py``: the real broadcast worker,
a fake platform that appends each message's arrival time to a file), waits until they are all
started, creates a broadcast to ``--sends`` citizens and prints, per run, the rate the platform
saw from the first message to the last ((n - 1) / (last - first)), the most messages within
any one second, and each process's share; then min / median / max over ``--runs``. Goal: within
5% of ``--rate`` (not N times it). Quote it with the machine's load (``uptime``).

    .venv/bin/python bench/lanes.py --database-url postgresql+asyncpg://…/trolyso_NAME \\
        [--processes 2] [--rate 10] [--sends 101] [--runs 5]

The database is emptied and its tables made anew.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import test_broadcast_lanes as lanes  # noqa: E402
from tests.broadcast_helpers import lesson_broadcast, status, village  # noqa: E402


async def run(url: str, processes: int, rate: float, sends: int) -> float:
    db = await lanes._fresh(url)
    folder = Path(tempfile.mkdtemp(prefix="lanes-"))
    logs = [folder / f"{i}.log" for i in range(processes)]
    children = [await lanes._child(db, log, rate, 30.0) for log in logs]
    try:
        team, _ = await village(db, sends)
        await lanes._ready(logs, children)
        bid = await lesson_broadcast(db, team, at=datetime.now(UTC))
        deadline = time.monotonic() + 120
        while await status(db, bid) == "active":
            if time.monotonic() > deadline:
                raise SystemExit("the broadcast did not finish")
            await asyncio.sleep(0.2)
    finally:
        await lanes._stop(children)
        await db.dispose()
    per_process = [lanes._sends(log) for log in logs]
    times = sorted(t for s in per_process for _, t in s)
    measured = lanes._rate(times)
    print(
        f"{measured:.3f}/s over {len(times)} messages, busiest second "
        f"{lanes._busiest_second(times)}, split {[len(s) for s in per_process]}",
        flush=True,
    )
    return measured


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", ""))
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--sends", type=int, default=101)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a PostgreSQL URL")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    rates = []
    started = time.monotonic()
    for _ in range(args.runs):
        rates.append(await run(args.database_url, args.processes, args.rate, args.sends))
    print(
        f"{args.processes} processes at {args.rate}/s: min {min(rates):.3f} median "
        f"{statistics.median(rates):.3f} max {max(rates):.3f} /s "
        f"({time.monotonic() - started:.0f} s; load {os.getloadavg()[0]:.2f})"
    )


if __name__ == "__main__":
    asyncio.run(main())
