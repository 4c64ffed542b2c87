"""``trolyso db upgrade``: apply the Alembic migrations; and the one way other commands open
the database (``session_for``)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.config import Config

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@asynccontextmanager
async def session_for(config: Config) -> AsyncIterator[AsyncSession]:
    """One transaction on the configured database (upgraded first on SQLite), committed when
    the block ends without an error; the connections are closed afterwards."""
    from bot.commands.run import prepare_database
    from storage.db import Database

    await prepare_database(config)
    db = Database(config.database.url)
    try:
        async with db.transaction() as session:
            yield session
    finally:
        await db.dispose()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db``."""
    db = sub.add_parser("db", help="cơ sở dữ liệu")
    actions = db.add_subparsers(dest="action", required=True)
    up = actions.add_parser("upgrade", help="nâng cấp cơ sở dữ liệu lên phiên bản mới nhất")
    up.set_defaults(handler=upgrade_command)


def upgrade_command(config: Config, args: argparse.Namespace) -> int:
    """Upgrade the database to the newest schema."""
    from storage.migrate import upgrade

    asyncio.run(upgrade(config.database.url))
    print("Đã nâng cấp cơ sở dữ liệu.")
    return 0
