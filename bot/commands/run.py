"""``trolyso run`` (the bot) and ``trolyso chat`` (the same core in a terminal)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import getpass
import logging
import signal
import sys
import tempfile

from bot.config import Config

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` and ``chat``."""
    run = sub.add_parser("run", help="chạy bot (khung chat web; Telegram, Zalo khi đã đặt token)")
    run.set_defaults(handler=run_command)
    chat = sub.add_parser("chat", help="trò chuyện với bot ngay trong cửa sổ lệnh")
    chat.add_argument(
        "--user", default=None, help="mã người dùng trong cửa sổ lệnh (mặc định: tên đăng nhập máy)"
    )
    chat.add_argument(
        "--live-db",
        action="store_true",
        help="dùng cơ sở dữ liệu thật trong cấu hình (mặc định: dữ liệu tạm, xóa khi thoát)",
    )
    chat.set_defaults(handler=chat_command)


async def prepare_database(config: Config) -> None:
    """Upgrade SQLite automatically; refuse a PostgreSQL database that is not up to date."""
    from storage.db import normalise_url
    from storage.migrate import current_is_head, upgrade

    if normalise_url(config.database.url).get_backend_name() == "sqlite":
        await upgrade(config.database.url)
    elif not await current_is_head(config.database.url):
        raise SystemExit("Cơ sở dữ liệu chưa được nâng cấp: chạy `trolyso db upgrade` trước.")


async def serve(config: Config) -> None:
    """Run the bot until SIGINT/SIGTERM."""
    from bot.app import build_app

    await prepare_database(config)
    app = build_app(config, deferred=True)  # the server answers while the content loads
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await app.start()
    if not app.channels:
        log.warning("no channel is enabled; set web.enabled or a bot token")
    stopping = asyncio.create_task(stop.wait())
    try:
        waiting = {stopping} | ({app.loading} if app.loading is not None else set())
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if app.loading in done:
            app.loading.result()  # a content error stops start-up, as before
            await stopping
    finally:
        stopping.cancel()
        await app.stop()


def run_command(config: Config, args: argparse.Namespace) -> int:
    """Start the bot."""
    from bot.content.problems import ContentError

    try:
        asyncio.run(serve(config))
    except ContentError as exc:
        print("Nội dung có lỗi, bot chưa khởi động:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


def throwaway(config: Config, folder: str) -> Config:
    """The configuration with a fresh SQLite database in ``folder`` (nothing real is touched)."""
    database = dataclasses.replace(config.database, url=f"sqlite+aiosqlite:///{folder}/chat.db")
    return dataclasses.replace(config, database=database)


async def console(config: Config, user: str) -> None:
    """Read lines from stdin, print the bot's replies as a text-only channel shows them."""
    from bot.app import build_app
    from bot.channels.memory import TEXT_ONLY, MemoryChannel

    await prepare_database(config)
    app = build_app(config)
    channel = MemoryChannel(app.core, name="console", capabilities=TEXT_ONLY)
    app.channels["console"] = channel
    try:
        replies = await channel.say(user, "/start", display_name=user)
        print("\n\n".join(channel.plain(replies)) + "\n")
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            if not line.strip():
                continue
            replies = await channel.say(user, line.rstrip("\n"), display_name=user)
            pushed = channel.sent.pop(user, [])
            print("\n\n".join(channel.plain(replies + pushed)) + "\n")
    finally:
        await app.stop()


def chat_command(config: Config, args: argparse.Namespace) -> int:
    """Chat with the bot in the terminal."""
    user = args.user or getpass.getuser() or "admin"
    with contextlib.ExitStack() as stack:
        if not args.live_db:  # a console "citizen" must not appear in the real reports
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="trolyso-chat-"))
            config = throwaway(config, folder)
            print("(Trò chuyện thử trên dữ liệu tạm, xóa khi thoát; --live-db: dữ liệu thật.)\n")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(console(config, user))
    return 0
