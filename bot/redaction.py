"""Secrets never reach the logs: every log record is cleaned as it is created.

Channels register their tokens (``protect_token``: the whole token and each half) and webhook
secrets with ``protect_secret``. A log record factory
(not a handler filter) does the cleaning, so records of every logger are covered, library loggers
included (httpx logs request URLs, which hold the bot token), and so are handlers added later.
Any ``/bot<token>`` URL path segment is hidden too, registered or not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

MASK = "[REDACTED]"

_SECRETS: set[str] = set()
_ORDERED: list[str] = []
_BOT_PATH = re.compile(r"/bot[^/\s?#\"']+")
_previous_factory: Callable[..., logging.LogRecord] | None = None


def redact(text: str) -> str:
    """``text`` with every registered secret and every ``/bot<token>`` path segment masked."""
    for secret in _ORDERED:  # longest first: a whole token before its halves
        if secret in text:
            text = text.replace(secret, MASK)
    return _BOT_PATH.sub(f"/bot{MASK}", text)


def redact_record(record: logging.LogRecord) -> None:
    """Redact a log record's message, traceback and stack in place."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to logging to report
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactSecrets(logging.Filter):
    """A filter doing the same, for handlers that build records themselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        redact_record(record)
        return True


MIN_PART = 6  # shorter token parts are not secret enough to mask everywhere


def protect_token(token: str) -> None:
    """Mask a bot token (``<bot id>:<secret>``) and each of its halves, wherever they appear:
    a server echoing one half must not leak it either."""
    protect_secret(token)
    for part in token.split(":"):
        if len(part) >= MIN_PART:
            protect_secret(part)


def protect_secret(secret: str) -> None:
    """Mask ``secret`` in every log record from now on, whichever logger or handler."""
    global _previous_factory
    if not secret:
        return
    if secret not in _SECRETS:
        _SECRETS.add(secret)
        _ORDERED[:] = sorted(_SECRETS, key=len, reverse=True)
    if _previous_factory is not None:
        return
    previous = logging.getLogRecordFactory()
    _previous_factory = previous

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
