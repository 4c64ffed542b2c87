"""Chat turns: database statements and aiosqlite hand-offs per turn, and turns per second.

Drives the real dispatcher (``Dispatcher.handle`` with a platform event id, as a channel
does: the duplicate check, the user, state and pressed button loaded, the handler, the question
log, the offered buttons and the versioned state written) on a real database, with real
citizen questions (tests/eval/questions.yaml). Every third turn presses the first button of
the citizen's last reply instead (a 👍, a choice, "Hỏi đáp"...). The citizens consented
beforehand.

Two rounds:

- alone: one turn at a time (each in its own transaction: the cost of a quiet bot);
- together: ``--users`` citizens writing at once, ``--turns`` each (turns of different
  citizens share a transaction: group commit).

For each round it prints the turns/s, the SQL statements per turn (counted with SQLAlchemy's
``before_cursor_execute`` event, an executemany counting once), on SQLite the hand-offs to
aiosqlite's thread per turn (every ``Connection._execute``, i.e. every queue put and wake-up),
and this process's CPU time per turn (less sensitive than turns/s to other load on the machine;
PostgreSQL's own CPU is not in it).

    .venv/bin/python bench/turns.py [--alone 300] [--users 50] [--turns 6]
        [--database-url URL]

The PostgreSQL database named by ``--database-url`` is emptied and re-created.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import App, build_app  # noqa: E402
from bot.channels.memory import RICH  # noqa: E402
from bot.config import Config, ContentConfig, DatabaseConfig, WebConfig  # noqa: E402
from bot.core.events import ButtonPress, Event, Sender, TextMessage  # noqa: E402
from bot.core.replies import Reply  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import utcnow  # noqa: E402
from storage.repos.users import UserRepo  # noqa: E402

CHANNEL = "telegram"


@dataclass
class Counts:
    """What the database saw."""

    statements: int = 0
    handoffs: int = 0


def questions() -> list[str]:
    """Real citizen questions (every style)."""
    data = yaml.safe_load((ROOT / "tests" / "eval" / "questions.yaml").read_text("utf-8"))
    return [q["q"] for q in data["questions"] if q.get("expected")]


def count_handoffs(counts: Counts) -> Callable[[], None]:
    """Count aiosqlite hand-offs (every call into its thread); returns the undo."""
    import aiosqlite.core

    original: Any = aiosqlite.core.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counts.handoffs += 1
        return await original(self, fn, *args, **kwargs)

    aiosqlite.core.Connection._execute = counted  # type: ignore[method-assign]

    def undo() -> None:
        aiosqlite.core.Connection._execute = original  # type: ignore[method-assign]

    return undo


class Citizens:
    """Citizens taking turns: questions, and every third turn a press of a last button."""

    def __init__(self, app: App, texts: list[str]) -> None:
        self.app = app
        self.texts = texts
        self.last: dict[str, list[Reply]] = {}
        self.n = 0

    def next_event(self, user: str) -> Event:
        self.n += 1
        sender = Sender(CHANNEL, user, f"Bác {user}")
        buttons = [b for r in self.last.get(user, []) for b in r.buttons]
        if self.n % 3 == 0 and buttons:
            return ButtonPress(sender=sender, payload=buttons[0].payload)
        return TextMessage(sender=sender, text=self.texts[self.n % len(self.texts)])

    async def turn(self, user: str) -> None:
        event = self.next_event(user)
        replies = await self.app.dispatcher.handle(event, RICH, once=f"{CHANNEL}:{self.n}")
        self.last[user] = replies


async def consent_all(app: App, users: list[str]) -> None:
    """Citizens who already said "Đồng ý" (the consent flow is not what we time)."""
    async with app.db.transaction() as session:
        found = await UserRepo(session).seen_many([(CHANNEL, u, f"Bác {u}") for u in users])
        for user in found.values():
            user.consent_at = utcnow()


async def measure(
    counts: Counts, turns: int, run: Callable[[], Awaitable[None]]
) -> tuple[float, float, float, float]:
    """turns/s, statements per turn, hand-offs per turn and this process's CPU ms per turn
    (all its threads: the event loop and aiosqlite's) of one round."""
    counts.statements = counts.handoffs = 0
    start, cpu = time.perf_counter(), time.process_time()
    await run()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return turns / elapsed, counts.statements / turns, counts.handoffs / turns, cpu * 1000 / turns


async def bench(url: str, alone: int, users: int, turns: int) -> None:
    """Both rounds on one database; prints a line each."""
    db = Database(url)
    await db.drop_all()
    await db.create_all()
    config = Config(
        database=DatabaseConfig(url=url),
        web=WebConfig(enabled=False),
        content=ContentConfig(dir=str(ROOT / "content"), watch=False),
        base_dir=ROOT,
    )
    app = build_app(config, db=db)
    counts = Counts()

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _statement(*_: Any) -> None:
        counts.statements += 1

    undo = count_handoffs(counts) if db.is_sqlite else (lambda: None)
    try:
        citizens = Citizens(app, questions())
        quiet = [f"q{i}" for i in range(20)]
        crowd = [f"c{i}" for i in range(users)]
        await consent_all(app, quiet + crowd)
        for user in quiet:  # warm up: caches, prepared statements, first states
            await citizens.turn(user)

        async def one_at_a_time() -> None:
            for i in range(alone):
                await citizens.turn(quiet[i % len(quiet)])

        async def at_once() -> None:
            async def citizen(user: str) -> None:
                for _ in range(turns):
                    await citizens.turn(user)

            await asyncio.gather(*(citizen(u) for u in crowd))

        kind = "SQLite" if db.is_sqlite else "PostgreSQL"
        for label, n, run in (
            ("alone", alone, one_at_a_time),
            (f"together ({users} citizens at once)", users * turns, at_once),
        ):
            rate, statements, handoffs, cpu = await measure(counts, n, run)
            extra = f", {handoffs:.1f} aiosqlite hand-offs" if db.is_sqlite else ""
            print(
                f"{kind:<10} {label:<30} {n:5d} turns: {rate:7.1f} turns/s, "
                f"{statements:.2f} statements{extra}, {cpu:.2f} ms CPU per turn",
                flush=True,
            )
    finally:
        undo()
        await app.stop()
        await db.dispose()


def main() -> int:
    """Parse the options and run the rounds."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--alone", type=int, default=300, help="turns, one at a time")
    parser.add_argument("--users", type=int, default=50, help="citizens writing at once")
    parser.add_argument("--turns", type=int, default=6, help="turns of each of them")
    parser.add_argument("--database-url", default="", help="default: a new SQLite file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        asyncio.run(bench(url, args.alone, args.users, args.turns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
