"""Configuration: ``config.yaml`` into frozen dataclasses; secrets only from the environment.

Every key is checked against its declared type; an unknown key or a wrong value stops start-up
with one line naming it. ``DATABASE_URL`` overrides ``database.url``.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """Invalid configuration; the message names the key."""


@dataclass(frozen=True)
class DatabaseConfig:
    """Where state lives."""

    url: str = "sqlite+aiosqlite:///data/trolyso.db"


@dataclass(frozen=True)
class WebConfig:
    """The aiohttp server: web chat, JSON API, webhooks, health check."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the real client;
    # empty: the connection's address is the client (X-Forwarded-For is ignored).
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContentConfig:
    """Where the YAML content lives and how often to look for changes."""

    dir: str = "content"
    watch: bool = True
    watch_interval: float = 2.0


@dataclass(frozen=True)
class TelegramConfig:
    """Telegram Bot API; the token comes from ``TELEGRAM_BOT_TOKEN``."""

    base_url: str = "https://api.telegram.org/bot"
    webhook_url: str = ""


@dataclass(frozen=True)
class ZaloConfig:
    """Zalo Bot Platform; the token comes from ``ZALO_BOT_TOKEN``."""

    base_url: str = "https://bot-api.zaloplatforms.com"
    webhook_url: str = ""
    poll_timeout: int = 30


@dataclass(frozen=True)
class ZaloOAConfig:
    """Zalo Official Accounts (OA Open API v3): one Zalo App (``ZALO_OA_APP_ID``) that many OAs
    authorise. ``redirect_url`` is the public address of ``GET /zalo-oa/oauth`` (default:
    ``web.public_url`` + ``/zalo-oa/oauth``); ``rate_per_second`` paces each OA's broadcasts."""

    openapi_url: str = "https://openapi.zalo.me"
    oauth_url: str = "https://oauth.zaloapp.com"
    webhook_path: str = "/zalo-oa/webhook"
    redirect_url: str = ""
    rate_per_second: float = 5.0


@dataclass(frozen=True)
class TeamsConfig:
    """Village teams and follow-up: deep links, when a citizen counts as stuck, report files
    (how long their links last, where they are kept)."""

    telegram_bot: str = ""
    stuck_days: int = 7
    file_hours: int = 24
    # Folder of report files (relative to the config file); "" keeps them in the database.
    file_dir: str = "data/files"
    invite_days: int = 14
    font: str = ""


@dataclass(frozen=True)
class LoggingConfig:
    """Log verbosity. ``sql`` lets the database driver and SQLAlchemy's engine log too: at
    DEBUG they log every SQL parameter (questions, names, button tokens), so only on request."""

    level: str = "INFO"
    sql: bool = False


@dataclass(frozen=True)
class BroadcastRates:
    """Broadcast messages per second, per channel; 0 means no limit (tests and benches only)."""

    telegram: float = 25.0
    zalo: float = 5.0
    web: float = 50.0
    other: float = 25.0

    def of(self, channel: str) -> float:
        """The rate for a channel by name."""
        value = getattr(self, channel, None) if channel in ("telegram", "zalo", "web") else None
        return float(self.other if value is None else value)


@dataclass(frozen=True)
class BroadcastConfig:
    """Lesson broadcasts: the delivery worker's pace, quiet hours and retries."""

    enabled: bool = True
    rate_per_second: BroadcastRates = field(default_factory=BroadcastRates)
    quiet_start: str = "21:00"
    quiet_end: str = "07:00"
    timezone: str = "Asia/Ho_Chi_Minh"
    batch_size: int = 50
    max_attempts: int = 3
    retry_delay: float = 30.0
    lease_seconds: float = 60.0
    poll_interval: float = 2.0


@dataclass(frozen=True)
class NudgesConfig:
    """Gentle reminders (a lesson left unfinished for ``after_days``) and spaced review (review
    questions ``review_days`` after a skill of ``review_group`` was passed). They keep the
    broadcasts' quiet hours and pace; ``enabled`` false stops both."""

    enabled: bool = True
    after_days: float = 3.0
    review_days: tuple[float, ...] = (3.0, 10.0)
    review_questions: int = 1
    review_group: str = "safety"
    batch_size: int = 50
    poll_interval: float = 60.0


@dataclass(frozen=True)
class RetentionConfig:
    """How long finished broadcast deliveries and the question log are kept (0: forever).

    Housekeeping deletes them in batches of ``batch_size`` rows, one short transaction each.
    A broadcast's per-state counts are kept on the broadcast first, so its report is unchanged;
    the question log views look back 30 days, so ``question_days`` is 0 or at least 30."""

    delivery_days: int = 90
    question_days: int = 365
    batch_size: int = 1000


@dataclass(frozen=True)
class Secrets:
    """Secrets read from the environment; never from a file, never logged."""

    telegram_token: str = field(default="", repr=False)
    telegram_webhook_secret: str = field(default="", repr=False)
    zalo_token: str = field(default="", repr=False)
    zalo_webhook_secret: str = field(default="", repr=False)
    web_session_key: str = field(default="", repr=False)
    zalo_oa_app_id: str = ""
    zalo_oa_app_secret: str = field(default="", repr=False)
    zalo_oa_secret_key: str = field(default="", repr=False)
    zalo_oa_token_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class Config:
    """The whole configuration."""

    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    web: WebConfig = field(default_factory=WebConfig)
    content: ContentConfig = field(default_factory=ContentConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    zalo: ZaloConfig = field(default_factory=ZaloConfig)
    zalo_oa: ZaloOAConfig = field(default_factory=ZaloOAConfig)
    teams: TeamsConfig = field(default_factory=TeamsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    broadcast: BroadcastConfig = field(default_factory=BroadcastConfig)
    nudges: NudgesConfig = field(default_factory=NudgesConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    secrets: Secrets = field(default_factory=Secrets, repr=False)
    base_dir: Path = field(default_factory=Path.cwd)

    def path(self, value: str) -> Path:
        """A path from the config, relative to the config file's directory."""
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path


# The unanswered questions views (chat and dashboard) look back this many days.
QUESTION_VIEW_DAYS = 30

_LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# type -> (accepts, converts, what the message asks for)
_SCALARS: dict[Any, tuple[Callable[[Any], bool], Callable[[Any], Any], str]] = {
    bool: (lambda v: isinstance(v, bool), bool, "true or false"),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), int, "a whole number"),
    float: (_number, float, "a number"),
    str: (lambda v: isinstance(v, str) or _number(v), str, "text"),
}


def _check(value: Any, kind: Any, key: str) -> Any:
    """Check (and gently coerce) one value against its declared type."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None:
            return None
        return _check(value, options[0], key)
    if kind in _SCALARS:
        accepts, convert, wanted = _SCALARS[kind]
        if accepts(value):
            return convert(value)
        raise ConfigError(f"config: {key} must be {wanted}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"config: {key} must be a list, got {value!r}")
        (inner, _ellipsis) = typing.get_args(kind)
        return tuple(_check(v, inner, f"{key}[{i}]") for i, v in enumerate(value))
    raise ConfigError(f"config: {key} has an unsupported type")


def _build(cls: Any, data: Any, prefix: str) -> Any:
    """Build a section dataclass from a mapping, rejecting unknown keys."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config: {prefix} must be a mapping of keys")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.init}
    for key in data:
        if key not in known or key in ("secrets", "base_dir"):
            raise ConfigError(f"config: unknown key {prefix}{'.' if prefix else ''}{key}")
    values = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        key = f"{prefix}.{f.name}" if prefix else f.name
        kind = hints[f.name]
        if is_dataclass(kind):
            values[f.name] = _build(kind, data[f.name], key)
        else:
            values[f.name] = _check(data[f.name], kind, key)
    return cls(**values)


def _validate(config: Config) -> None:
    """Cross-field checks with clear messages."""
    if not 0 < config.web.port < 65536:
        raise ConfigError(f"config: web.port must be between 1 and 65535, got {config.web.port}")
    if config.logging.level.upper() not in _LOG_LEVELS:
        raise ConfigError(f"config: logging.level must be one of {', '.join(sorted(_LOG_LEVELS))}")
    if config.content.watch_interval <= 0:
        raise ConfigError("config: content.watch_interval must be greater than 0")
    _validate_urls(config)
    _validate_proxies(config.web.trusted_proxies)
    if config.database.url.strip() == "":
        raise ConfigError("config: database.url must not be empty")
    if config.zalo.poll_timeout < 1:
        raise ConfigError("config: zalo.poll_timeout must be at least 1 second")
    for key in ("stuck_days", "file_hours", "invite_days"):
        if getattr(config.teams, key) < 1:
            raise ConfigError(f"config: teams.{key} must be at least 1")
    bot_name = config.teams.telegram_bot.lstrip("@")
    if bot_name and not (bot_name.isascii() and bot_name.replace("_", "").isalnum()):
        raise ConfigError("config: teams.telegram_bot must be a bot username like trolyso_bot")
    _validate_broadcast(config.broadcast)
    _validate_nudges(config.nudges)
    _validate_zalo_oa(config.zalo_oa)
    _validate_retention(config.retention)


def _validate_retention(retention: RetentionConfig) -> None:
    """Checks of the ``retention`` section."""
    if retention.delivery_days < 0:
        raise ConfigError("config: retention.delivery_days must be 0 (keep) or more days")
    if retention.question_days != 0 and retention.question_days < QUESTION_VIEW_DAYS:
        raise ConfigError(
            f"config: retention.question_days must be 0 (keep) or at least "
            f"{QUESTION_VIEW_DAYS} (the unanswered questions views look back that far)"
        )
    if not 1 <= retention.batch_size <= 10000:
        raise ConfigError("config: retention.batch_size must be between 1 and 10000")


def _validate_urls(config: Config) -> None:
    """The platforms' base URLs are http(s); webhooks are https (or this machine's, for tests)."""
    for key, url in (
        ("telegram.base_url", config.telegram.base_url),
        ("zalo.base_url", config.zalo.base_url),
    ):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"config: {key} must start with http:// or https://")
    for key, url in (
        ("telegram.webhook_url", config.telegram.webhook_url),
        ("zalo.webhook_url", config.zalo.webhook_url),
    ):
        if url and not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
            raise ConfigError(f"config: {key} must be an https:// address")


def _validate_proxies(proxies: tuple[str, ...]) -> None:
    """Each trusted proxy is an IP address or network (``10.0.0.0/8``)."""
    import ipaddress

    for index, value in enumerate(proxies):
        try:
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError as exc:
            raise ConfigError(
                f"config: web.trusted_proxies[{index}] must be an IP address or network, "
                f"got {value!r}"
            ) from exc


def _validate_zalo_oa(oa: ZaloOAConfig) -> None:
    """Checks of the ``zalo_oa`` section."""
    for key in ("openapi_url", "oauth_url"):
        if not getattr(oa, key).startswith(("http://", "https://")):
            raise ConfigError(f"config: zalo_oa.{key} must start with http:// or https://")
    if not oa.webhook_path.startswith("/") or oa.webhook_path.rstrip("/") in ("", "/zalo-oa/oauth"):
        raise ConfigError("config: zalo_oa.webhook_path must be a path like /zalo-oa/webhook")
    if oa.redirect_url and not oa.redirect_url.startswith(("https://", "http://127.0.0.1")):
        raise ConfigError("config: zalo_oa.redirect_url must be an https:// address")
    if oa.rate_per_second < 0:
        raise ConfigError("config: zalo_oa.rate_per_second must be 0 or more")


def _validate_broadcast(broadcast: BroadcastConfig) -> None:
    """Checks of the ``broadcast`` section."""
    import re
    import zoneinfo

    for name in ("telegram", "zalo", "web", "other"):
        if getattr(broadcast.rate_per_second, name) < 0:
            raise ConfigError(f"config: broadcast.rate_per_second.{name} must be 0 or more")
    for key in ("quiet_start", "quiet_end"):
        value = getattr(broadcast, key)
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
        if value.strip() and (match is None or int(match[1]) > 23 or int(match[2]) > 59):
            raise ConfigError(f"config: broadcast.{key} must be a time like 21:00, got {value!r}")
    if bool(broadcast.quiet_start.strip()) != bool(broadcast.quiet_end.strip()):
        raise ConfigError("config: broadcast.quiet_start and quiet_end go together")
    if broadcast.timezone != "Asia/Ho_Chi_Minh":
        try:
            zoneinfo.ZoneInfo(broadcast.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"config: broadcast.timezone is not a known time zone: {broadcast.timezone!r}"
            ) from exc
    if broadcast.batch_size < 1:
        raise ConfigError("config: broadcast.batch_size must be at least 1")
    if broadcast.max_attempts < 1:
        raise ConfigError("config: broadcast.max_attempts must be at least 1")
    for key in ("retry_delay", "lease_seconds", "poll_interval"):
        if getattr(broadcast, key) <= 0:
            raise ConfigError(f"config: broadcast.{key} must be greater than 0")


def _validate_nudges(nudges: NudgesConfig) -> None:
    """Checks of the ``nudges`` section."""
    if nudges.after_days <= 0:
        raise ConfigError("config: nudges.after_days must be greater than 0")
    days = list(nudges.review_days)
    if any(d <= 0 for d in days) or days != sorted(set(days)):
        raise ConfigError(
            "config: nudges.review_days must be days greater than 0, in increasing order"
        )
    if nudges.review_questions not in (1, 2):
        raise ConfigError("config: nudges.review_questions must be 1 or 2")
    if nudges.batch_size < 1:
        raise ConfigError("config: nudges.batch_size must be at least 1")
    if nudges.poll_interval <= 0:
        raise ConfigError("config: nudges.poll_interval must be greater than 0")


def load_config(path: Path | None = None, env: typing.Mapping[str, str] | None = None) -> Config:
    """Read a config file (``config.yaml`` by default) and the environment."""
    env = os.environ if env is None else env
    path = path or Path("config.yaml")
    data: Any = {}
    if path.exists():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"config: {path}{where} is not valid YAML") from exc
    elif path != Path("config.yaml"):
        raise ConfigError(f"config: file {path} does not exist")
    config = _build(Config, data, "")
    secrets = Secrets(
        telegram_token=env.get("TELEGRAM_BOT_TOKEN", "").strip(),
        telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", "").strip(),
        zalo_token=env.get("ZALO_BOT_TOKEN", "").strip(),
        zalo_webhook_secret=env.get("ZALO_WEBHOOK_SECRET", "").strip(),
        web_session_key=env.get("WEB_SESSION_KEY", "").strip(),
        zalo_oa_app_id=env.get("ZALO_OA_APP_ID", "").strip(),
        zalo_oa_app_secret=env.get("ZALO_OA_APP_SECRET", "").strip(),
        zalo_oa_secret_key=env.get("ZALO_OA_SECRET_KEY", "").strip(),
        zalo_oa_token_key=env.get("ZALO_OA_TOKEN_KEY", "").strip(),
    )
    if 0 < len(secrets.web_session_key) < 32:
        raise ConfigError(
            "config: WEB_SESSION_KEY must be at least 32 characters (a random string)"
        )
    database = config.database
    if env.get("DATABASE_URL"):
        database = DatabaseConfig(url=env["DATABASE_URL"])
    config = Config(
        **{
            f.name: getattr(config, f.name)
            for f in fields(Config)
            if f.name not in ("secrets", "database", "base_dir")
        },
        database=database,
        secrets=secrets,
        base_dir=path.resolve().parent,
    )
    _validate(config)
    return config
