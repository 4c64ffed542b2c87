"""Broadcast delivery: raw throughput with no rate limit, and the pace kept at a limit.

Runs the real worker (claims, ``sending`` commits, the "Học ngay" button recorded for every
citizen, results committed) on a real database against an in-process fake channel whose send
costs nothing but an await, so the figures are the worker's and the database's.

1. Rate limit off: one broadcast to N citizens; deliveries per second (target >= 1,000/s on
   SQLite).
2. Rate limit at R/s (default 30): one broadcast to 10,000 citizens; the achieved rate is
   measured over the first W deliveries (default 1,500, about 50 s at 30/s) to keep the run
   short, then the run stops (target: within 5% of R).

    .venv/bin/python bench/broadcast.py [-n 5000] [--rate 30] [--recipients 10000]
        [--window 1500] [--database-url URL]

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.broadcast.worker import BroadcastWorker  # noqa: E402
from bot.channels.base import Channel  # noqa: E402
from bot.channels.memory import RICH  # noqa: E402
from bot.config import BroadcastConfig, BroadcastRates, Config, ContentConfig  # noqa: E402
from bot.content.store import ContentStore  # noqa: E402
from bot.core.replies import Reply  # noqa: E402
from bot.core.services import Services  # noqa: E402
from storage.db import Database  # noqa: E402
from tests.broadcast_helpers import CHANNEL, lesson_broadcast, status, village  # noqa: E402


class CountingChannel(Channel):
    """A fake platform: counts messages and notes when each arrived."""

    def __init__(self) -> None:
        super().__init__(None)  # type: ignore[arg-type]
        self.name = CHANNEL
        self.capabilities = RICH
        self.times: list[float] = []
        self.goal = 0
        self.reached = asyncio.Event()

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        await asyncio.sleep(0)
        self.times.append(time.monotonic())
        if self.goal and len(self.times) >= self.goal:
            self.reached.set()


def _config(rate: float) -> BroadcastConfig:
    return BroadcastConfig(
        rate_per_second=BroadcastRates(telegram=rate, zalo=rate, web=rate, other=rate),
        quiet_start="",
        quiet_end="",
        batch_size=100,
        poll_interval=0.05,
    )


async def _services(url: str, content: str) -> Services:
    db = Database(url)
    await db.drop_all()
    await db.create_all()
    config = Config(content=ContentConfig(dir=content, watch=False))
    return Services(config=config, store=ContentStore(Path(content)), db=db)


async def unlimited(url: str, content: str, n: int) -> tuple[float, float]:
    """Deliveries per second with no rate limit, and this process's CPU microseconds per
    delivery (all its threads; less sensitive to other load on the machine)."""
    services = await _services(url, content)
    try:
        team, _ = await village(services.db, n, code="BENCH1")
        bid = await lesson_broadcast(services.db, team)
        channel = CountingChannel()
        worker = BroadcastWorker(services, {CHANNEL: channel}, config=_config(0))
        start, cpu = time.monotonic(), time.process_time()
        await worker.run_once()
        elapsed, cpu = time.monotonic() - start, time.process_time() - cpu
        assert await status(services.db, bid) == "done", "broadcast not finished"
        assert len(channel.times) == n
        return n / elapsed, cpu * 1e6 / n
    finally:
        await services.db.dispose()


async def limited(
    url: str, content: str, rate: float, recipients: int, window: int
) -> tuple[float, int]:
    """The achieved rate over the first ``window`` deliveries of a broadcast at ``rate``/s."""
    services = await _services(url, content)
    try:
        team, _ = await village(services.db, recipients, code="BENCH2")
        await lesson_broadcast(services.db, team)
        channel = CountingChannel()
        channel.goal = window
        worker = BroadcastWorker(services, {CHANNEL: channel}, config=_config(rate))
        task = asyncio.create_task(worker.run())
        await channel.reached.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        times = channel.times[:window]
        # From the first delivery to the last of the window: (window - 1) intervals.
        return (window - 1) / (times[-1] - times[0]), len(channel.times)
    finally:
        await services.db.dispose()


def main() -> int:
    """Run both measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=5000, help="recipients, rate limit off")
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--recipients", type=int, default=10000)
    parser.add_argument("--window", type=int, default=1500)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--content", default=str(ROOT / "content"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        kind = "PostgreSQL" if "postgres" in url else "SQLite"
        print(f"database: {kind}")
        per_second, cpu = asyncio.run(unlimited(url, args.content, args.n))
        ok_fast = per_second >= 1000
        print(
            f"rate limit off: {args.n} recipients, {per_second:,.0f} deliveries/s "
            f"(target >= 1,000/s: {'ok' if ok_fast else 'MISSED'}), "
            f"{cpu:,.0f} µs CPU of this process per delivery"
        )
        achieved, total = asyncio.run(
            limited(url, args.content, args.rate, args.recipients, args.window)
        )
        off = abs(achieved - args.rate) / args.rate
        ok_pace = off <= 0.05
        print(
            f"rate limit {args.rate:g}/s: broadcast of {args.recipients} recipients, achieved "
            f"{achieved:.2f}/s over the first {args.window} deliveries "
            f"({off:.1%} from the limit; target within 5%: {'ok' if ok_pace else 'MISSED'}); "
            f"measured on a bounded window to keep the run short ({total} sent when stopped)"
        )
    return 0 if ok_fast and ok_pace else 1


if __name__ == "__main__":
    sys.exit(main())
