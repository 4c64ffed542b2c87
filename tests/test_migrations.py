"""Migrations: upgrade an empty database to head, then the models and the schema must agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from storage.db import Database
from storage.migrate import current_is_head, upgrade
from storage.models import Base


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _check(url: str) -> None:
    assert not await current_is_head(url)
    await upgrade(url)
    assert await current_is_head(url)
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(_diff)
    finally:
        await db.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"


async def test_sqlite_upgrade_to_head_matches_models(tmp_path: Path) -> None:
    await _check(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


async def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await upgrade(url)
    await upgrade(url)
    assert await current_is_head(url)


async def test_postgres_upgrade_to_head_matches_models(pg_url: str) -> None:
    db = Database(pg_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    await db.dispose()
    await _check(pg_url)
    db = Database(pg_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    await db.dispose()


@pytest.mark.parametrize("revision", ["0001"])
async def test_downgrade_path_exists(tmp_path: Path, revision: str) -> None:
    from alembic import command

    from storage.migrate import alembic_config

    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await upgrade(url)
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), revision))
    await db.dispose()
    assert not await current_is_head(url)


def test_team_sizes_triggers_of_the_models_are_those_of_the_migration() -> None:
    import importlib.util

    from storage.models import teams

    path = Path(__file__).parent.parent / "storage/migrations/versions/0018_team_sizes.py"
    spec = importlib.util.spec_from_file_location("team_sizes_migration", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.POSTGRESQL == teams.TEAM_SIZES_POSTGRESQL
    assert migration.SQLITE == teams.TEAM_SIZES_SQLITE
