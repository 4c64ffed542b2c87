"""Telegram throughput: our bot against a bare PTB echo bot, on the same fake Bot API server.

One process pair: this process runs the bots one after the other, a second process runs the
fake Bot API server (tests/fake_telegram.py) on 127.0.0.1. Each round queues N text updates
from U citizens at once and times until every update is handled: fetched with getUpdates, run
through the bot, replies sent with sendMessage, the update marked done.

Ours does the real work on real questions (tests/eval/questions.yaml): the dispatcher, the
knowledge matcher when it is there, and the SQLite writes of every turn. The citizens have
consented beforehand. Ours runs as shipped (PTB concurrency 64, Bot API calls over aiohttp,
turns committed in batches, AIORateLimiter with retries) except that the limiter's overall
30 messages/s cap is lifted: that cap is Telegram's limit, not a cost of our code. The
reference is PTB's echobot example with PTB's defaults (httpx); the same echo bot with our
concurrency is shown for information. ``--breakdown`` also runs our channel with an instant
core (how much of the gap is the channel, how much the core) and the echo bot on our aiohttp
transport (how much of our lead in transport the core spends).

    .venv/bin/python bench/telegram_throughput.py [-n 2000] [--users 50] [--rounds 3]

Target: ours reaches at least 0.6 of the echo bot's updates/s (exit status 1 when below).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from bot.app import App, build_app  # noqa: E402
from bot.channels.telegram import CONCURRENCY, TelegramChannel  # noqa: E402
from bot.channels.telegram_http import AiohttpRequest  # noqa: E402
from bot.commands.run import prepare_database  # noqa: E402
from bot.config import (  # noqa: E402
    Config,
    ContentConfig,
    DatabaseConfig,
    Secrets,
    TelegramConfig,
    WebConfig,
)
from bot.core.replies import Button, Reply  # noqa: E402
from storage.models import utcnow  # noqa: E402
from storage.repos.users import UserRepo  # noqa: E402
from tests.fake_telegram import TOKEN  # noqa: E402

TARGET = 0.6
AnyApp = Application[Any, Any, Any, Any, Any, Any]


def questions() -> list[str]:
    """Real citizen questions (every style) that the bot should answer."""
    data = yaml.safe_load((ROOT / "tests" / "eval" / "questions.yaml").read_text("utf-8"))
    return [q["q"] for q in data["questions"] if q.get("expected")]


def feed(texts: list[str], n: int, users: int, first_user: int) -> list[dict[str, Any]]:
    """N text updates, citizens taking turns."""
    return [{"user": first_user + i % users, "text": texts[i % len(texts)]} for i in range(n)]


class FakeServer:
    """The fake Bot API server in its own process, driven over its control routes."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self.http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FakeServer:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.fake_telegram",
            "--port",
            "0",
            "--token",
            TOKEN,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        self.port = int(line.split()[1])
        self.http = aiohttp.ClientSession(f"http://127.0.0.1:{self.port}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http is not None:
            await self.http.close()
        if self.process is not None:
            self.process.terminate()
            await self.process.wait()

    @property
    def base_url(self) -> str:
        """``telegram.base_url`` for this server."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def queue(self, items: list[dict[str, Any]]) -> int:
        """Queue updates; returns the last update id."""
        assert self.http is not None
        async with self.http.post("/_fake/updates", json=items) as response:
            return int((await response.json())["last"])

    async def stats(self, texts: bool = False) -> dict[str, Any]:
        """Call counts, the confirmed offset and (optionally) the texts sent."""
        assert self.http is not None
        async with self.http.get("/_fake/stats", params={"texts": "1"} if texts else {}) as r:
            result: dict[str, Any] = await r.json()
            return result

    async def confirmed(self, update_id: int) -> None:
        """Wait until the bot has fetched (and confirmed) every update up to ``update_id``."""
        assert self.http is not None
        async with self.http.get("/_fake/confirmed", params={"id": str(update_id)}) as r:
            await r.read()

    async def reset(self) -> None:
        """Forget recorded calls."""
        assert self.http is not None
        async with self.http.post("/_fake/reset"):
            pass


async def run_round(fake: FakeServer, app: AnyApp, items: list[dict[str, Any]]) -> float:
    """Queue the updates at once; seconds until the bot has handled every one."""
    start = time.perf_counter()
    last = await fake.queue(items)
    await fake.confirmed(last)  # every update fetched
    await app.update_queue.join()  # every fetched update processed, replies sent
    return time.perf_counter() - start


async def our_bot(fake: FakeServer, database_url: str) -> tuple[App, TelegramChannel]:
    """Our bot wired as in production, its database migrated."""
    config = Config(
        database=DatabaseConfig(url=database_url),
        web=WebConfig(enabled=False),
        content=ContentConfig(dir=str(ROOT / "content"), watch=False),
        telegram=TelegramConfig(base_url=fake.base_url),
        secrets=Secrets(telegram_token=TOKEN),
        base_dir=ROOT,
    )
    await prepare_database(config)
    app = build_app(config)
    channel = TelegramChannel(app.core, TOKEN, base_url=fake.base_url, max_rate=0)
    app.channels["telegram"] = channel
    await channel.start()
    await asyncio.wait_for(channel.ready.wait(), 30)
    return app, channel


async def consent_all(app: App, users: range) -> None:
    """Citizens who already said "Đồng ý" (the consent flow is not what we time)."""
    async with app.db.transaction() as session:
        repo = UserRepo(session)
        for user_id in users:
            key = ("telegram", str(user_id))
            user = (await repo.seen_many([(*key, f"Bác {user_id}")]))[key]
            user.consent_at = user.consent_at or utcnow()
            user.display_name = f"Bác {user_id}"


async def echo_bot(fake: FakeServer, concurrency: int, aiohttp_transport: bool = False) -> AnyApp:
    """PTB's echobot example: echo every text. PTB defaults, except a concurrency above 1
    and, for information, our aiohttp transport."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text)

    builder = Application.builder().token(TOKEN).base_url(fake.base_url)
    if concurrency > 1:
        builder = builder.concurrent_updates(concurrency)
    if aiohttp_transport:
        builder = builder.request(AiohttpRequest()).get_updates_request(AiohttpRequest(1))
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=1)
    return app


async def stop_echo(app: AnyApp) -> None:
    """Stop the echo bot."""
    if app.updater is not None:
        await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def instant(
    event: Any, caps: Any, *, respond: Any = None, once: Any = None, seq: Any = None
) -> list[Reply]:
    """A core that costs nothing: the not-understood reply with the four menu buttons."""
    labels = ["Hỏi đáp", "Bài học", "Tiến độ của tôi", "Liên hệ tổ công nghệ số"]
    text = "Mình chưa hiểu ý bạn. Bạn chọn trong danh mục, hoặc gõ câu hỏi ngắn gọn hơn nhé."
    buttons = tuple(Button(b, f"t{i:07d}") for i, b in enumerate(labels))
    replies = [Reply(text=text, buttons=buttons)]
    if respond is not None:
        await respond(replies)
    return replies


class Bench:
    """The contenders of one run, timed round after round on the same fake server."""

    def __init__(self, fake: FakeServer, database_url: str, n: int, users: int) -> None:
        self.fake = fake
        self.database_url = database_url
        self.n = n
        self.users = users
        self.sent: list[str] = []
        self.rates: dict[str, list[float]] = {}

    async def ours(self, base: int, items: list[dict[str, Any]], stub: bool = False) -> float:
        app, channel = await our_bot(self.fake, self.database_url)
        try:
            await consent_all(app, range(base, base + self.users))
            if stub:
                app.dispatcher.handle = instant  # type: ignore[method-assign]
            await run_round(self.fake, channel.application, items[:200])
            await self.fake.reset()
            seconds = await run_round(self.fake, channel.application, items)
            if not stub:
                self.sent.extend((await self.fake.stats(texts=True))["texts"])
            return seconds
        finally:
            await app.stop()

    async def echo(
        self, items: list[dict[str, Any]], concurrency: int, aiohttp_transport: bool = False
    ) -> float:
        app = await echo_bot(self.fake, concurrency, aiohttp_transport)
        try:
            await run_round(self.fake, app, items[:200])
            return await run_round(self.fake, app, items)
        finally:
            await stop_echo(app)

    async def round(self, number: int, texts: list[str], breakdown: bool) -> None:
        base = 10_000 + number * 1000
        items = feed(texts, self.n, self.users, base)
        contenders: list[tuple[str, Callable[[], Awaitable[float]]]] = [
            ("ours", lambda: self.ours(base, items)),
            ("echo", lambda: self.echo(items, 1)),
            (f"echo, concurrency {CONCURRENCY}", lambda: self.echo(items, CONCURRENCY)),
        ]
        if breakdown:
            contenders.append(("ours, instant core", lambda: self.ours(base, items, stub=True)))
            contenders.append(
                (
                    "echo, our transport",
                    lambda: self.echo(items, CONCURRENCY, aiohttp_transport=True),
                )
            )
        for label, run in contenders:
            rate = self.n / await run()
            self.rates.setdefault(label, []).append(rate)
            print(f"  round {number + 1}  {label:<24} {rate:7.1f} updates/s", flush=True)


async def main(n: int, users: int, rounds: int, database_url: str, breakdown: bool) -> float:
    """Run the rounds and print the medians and the ratio."""
    logging.basicConfig(level=logging.WARNING)
    texts = questions()
    async with FakeServer() as fake:
        with tempfile.TemporaryDirectory() as folder:
            url = database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            bench = Bench(fake, url, n, users)
            for number in range(rounds):
                await bench.round(number, texts, breakdown)
    median = {label: statistics.median(values) for label, values in bench.rates.items()}
    ratio = median["ours"] / median["echo"]
    unknown = sum(1 for t in bench.sent if "chưa hiểu ý bạn" in t)
    other = f"echo, concurrency {CONCURRENCY}"
    print(f"\n{n} text updates from {users} citizens per round; median of {rounds} rounds:")
    print(f"  ours: {median['ours']:7.1f} updates/s  (real questions: matcher, database writes,")
    print(f"                            rate limiter, PTB concurrency {CONCURRENCY})")
    print(f"  echo: {median['echo']:7.1f} updates/s  (bare PTB echo bot, PTB defaults)")
    print(f"        {median[other]:7.1f} updates/s  ({other}, for information)")
    if breakdown:
        instant_rate = median["ours, instant core"]
        print(f"  ours with an instant core: {instant_rate:7.1f} updates/s (the channel alone)")
        ours_transport = median["echo, our transport"]
        print(
            f"  echo on our aiohttp transport, concurrency {CONCURRENCY}: "
            f"{ours_transport:7.1f} updates/s (ratio ours/that: "
            f"{median['ours'] / ours_transport:.2f})"
        )
    verdict = "OK" if ratio >= TARGET else "BELOW TARGET"
    print(f"  ratio ours/echo: {ratio:.2f}  (target >= {TARGET}) {verdict}")
    print(f"  ratio ours/echo at the same concurrency: {median['ours'] / median[other]:.2f}")
    print(f"  our replies: {len(bench.sent)} messages, {unknown} of them 'not understood'")
    return ratio


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="text updates per round")
    parser.add_argument("--users", type=int, default=50, help="distinct citizens")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database-url", default="", help="our bot's database (default: a new SQLite file)"
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="also run our channel with an instant core"
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        result = asyncio.run(
            main(args.n, args.users, args.rounds, args.database_url, args.breakdown)
        )
        sys.exit(0 if result >= TARGET else 1)
