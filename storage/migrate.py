"""Alembic, driven from Python with our async engine (``trolyso db upgrade``, ``trolyso run``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from storage.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """An Alembic config pointing at our migrations, sharing ``connection`` when given."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _is_head(connection: Connection) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


async def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``."""
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(_upgrade, revision)
    finally:
        await db.dispose()


async def current_is_head(url: str) -> bool:
    """Whether the database at ``url`` is at the newest revision."""
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return await conn.run_sync(_is_head)
    finally:
        await db.dispose()
