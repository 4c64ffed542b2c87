"""``trolyso db upgrade``: apply the Alembic migrations."""

from __future__ import annotations

import argparse
import asyncio

from bot.config import Config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db``."""
    db = sub.add_parser("db", help="database schema")
    actions = db.add_subparsers(dest="action", required=True)
    up = actions.add_parser("upgrade", help="upgrade the schema to the newest version")
    up.set_defaults(handler=upgrade_command)


def upgrade_command(config: Config, args: argparse.Namespace) -> int:
    """Upgrade the database to the newest schema."""
    from storage.migrate import upgrade

    asyncio.run(upgrade(config.database.url))
    print("database upgraded")
    return 0
