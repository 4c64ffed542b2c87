"""``trolyso``: run the bot, chat in the terminal, manage the database and content."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import Config, ConfigError, load_config
from bot.redaction import protect_token

COMMAND_MODULES = (
    "bot.commands.run",
    "bot.commands.db",
    "bot.commands.team",
    "bot.commands.broadcast",
    "bot.commands.content",
    "bot.commands.scam",
    "bot.commands.zalo_oa",
    "bot.commands.cert",
)

SECRET_LOGGERS = (
    "httpx",
    "httpcore",
    "telegram",
    "telegram.ext",
    "aiohttp.access",
    "aiohttp.client",
    "alembic",
)


# Loggers that at DEBUG write every SQL statement with its parameters (personal data).
SQL_LOGGERS = ("sqlalchemy.engine", "sqlalchemy.pool", "sqlalchemy.orm", "aiosqlite", "asyncpg")


def setup_logging(level: str, *, sql: bool = False) -> None:
    """Log to stderr; silence libraries that log URLs with tokens in them, and the database
    loggers (SQL parameters) unless ``sql`` asks for them."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in SECRET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in SQL_LOGGERS:
        logging.getLogger(name).setLevel(level.upper() if sql else logging.WARNING)


def parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    root = argparse.ArgumentParser(prog="trolyso", description="Trợ lý số chatbot")
    root.add_argument("--config", type=Path, default=None, help="config file (default config.yaml)")
    sub = root.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return root


def config_from(args: argparse.Namespace) -> Config:
    """Load the configuration named on the command line."""
    return load_config(args.config)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trolyso`` command."""
    args = parser().parse_args(argv)
    try:
        config = config_from(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for secret in dataclasses.astuple(config.secrets):
        protect_token(secret)
    setup_logging(config.logging.level, sql=config.logging.sql)
    try:
        result: int = args.handler(config, args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
