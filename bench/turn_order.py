"""Webhook turns on PostgreSQL from two processes: what the order of one citizen's turns costs.

Two ``App`` instances on separate engines (one per "process", as behind a load balancer) share
one PostgreSQL database and take webhook turns through the core (``Core.handle`` with the event
id and its sequence, as the Telegram, Zalo and Zalo OA channels do), replies recorded in memory.

- ``spread``: N citizens, one turn each, alternately at the two processes, all at once (no two
  turns of one citizen: the common case). Prints turns/s and SQL statements per turn.
- ``one citizen``: C citizens each sending M turns, alternately at the two processes, all at
  once (the contention case). Prints turns/s, statements per turn, how many turns were handled
  out of the platform's order (a turn recorded only after a newer one was handled runs late)
  and how many ran while another turn of the same citizen was running (must be 0).

    .venv/bin/python bench/turn_order.py [--database-url URL] [-n 2000] [--citizens 20] [-m 10]

The database's tables are dropped and created again: give it a database of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import itertools
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import App, build_app  # noqa: E402
from bot.channels.memory import RICH  # noqa: E402
from bot.config import Config, ContentConfig, DatabaseConfig, WebConfig  # noqa: E402
from bot.core.context import Context  # noqa: E402
from bot.core.events import Sender, TextMessage  # noqa: E402
from bot.core.gateway import Gateway  # noqa: E402
from bot.core.replies import Reply  # noqa: E402
from storage.db import Database  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/trolyso_order"


class Watch:
    """Shared by the processes: the order turns ran in, per citizen, and overlaps."""

    def __init__(self) -> None:
        self.ran: dict[str, list[int]] = {}
        self.busy: set[str] = set()
        self.overlaps = 0
        self.statements = 0


def wrap(app: App, watch: Watch) -> None:
    dispatch = app.dispatcher.routes.dispatch

    async def watched(ctx: Context) -> None:
        who = ctx.event.sender.external_id
        if who in watch.busy:
            watch.overlaps += 1
        watch.busy.add(who)
        try:
            await dispatch(ctx)
        finally:
            watch.busy.discard(who)
        text = getattr(ctx.event, "text", "")
        if text.startswith("tin "):
            watch.ran.setdefault(who, []).append(int(text[4:]))

    app.dispatcher.routes.dispatch = watched  # type: ignore[method-assign]

    def count(*_: Any) -> None:
        watch.statements += 1

    event.listen(app.db.engine.sync_engine, "before_cursor_execute", count)


# The same bench runs on a tree from before turns had a sequence (to compare the costs).
SEQ = "seq" in inspect.signature(Gateway.handle).parameters


async def turn(app: App, who: str, seq: int, answered: list[int]) -> None:
    async def respond(replies: Sequence[Reply]) -> None:
        answered.append(len(replies))

    sender = Sender(channel="telegram", external_id=who)
    message = TextMessage(sender=sender, text=f"tin {seq}")
    order: dict[str, Any] = {"seq": seq} if SEQ else {}
    await app.core.handle(message, RICH, respond, once=f"{who}:{seq}", **order)


async def run(apps: Sequence[App], work: list[tuple[int, str, int]], watch: Watch) -> None:
    """Each turn (process, citizen, sequence) at its process, all at once; prints figures."""
    watch.ran.clear()
    watch.overlaps = watch.statements = 0
    answered: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(*(turn(apps[p], w, s, answered) for p, w, s in work))
    seconds = time.perf_counter() - started
    late = sum(sum(1 for a, b in itertools.pairwise(seqs) if b < a) for seqs in watch.ran.values())
    handled = sum(len(seqs) for seqs in watch.ran.values())
    print(
        f"  {len(work)} turns in {seconds:.2f} s: {len(work) / seconds:.0f} turns/s, "
        f"{watch.statements / len(work):.1f} statements/turn, handled {handled}, "
        f"answered {len(answered)}, out of order {late}, overlapping {watch.overlaps}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("-n", type=int, default=2000, help="turns in the spread case")
    parser.add_argument("--citizens", type=int, default=20)
    parser.add_argument("-m", type=int, default=10, help="turns per citizen, contention case")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = Config(
        database=DatabaseConfig(url=args.database_url),
        web=WebConfig(host="127.0.0.1", port=0),
        content=ContentConfig(dir=str(ROOT / "content"), watch=False),
        base_dir=ROOT,
    )
    first = Database(args.database_url)
    await first.drop_all()
    await first.create_all()
    watch = Watch()
    apps = [build_app(config, db=first), build_app(config, db=Database(args.database_url))]
    for app in apps:
        wrap(app, watch)
    try:
        for r in range(args.rounds):
            tag = secrets.token_hex(3)
            print(f"round {r + 1}: spread (one turn per citizen)")
            await run(apps, [(i % 2, f"{tag}s{i}", 1) for i in range(args.n)], watch)
            print(f"round {r + 1}: {args.citizens} citizens x {args.m} turns, interleaved")
            work = [
                ((s + c) % 2, f"{tag}c{c}", s)
                for s in range(1, args.m + 1)
                for c in range(args.citizens)
            ]
            await run(apps, work, watch)
    finally:
        for app in apps:
            await app.stop()
            await app.db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
