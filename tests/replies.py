"""Assertion helpers over replies (tests only)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.replies import Reply


def texts(replies: Sequence[Reply]) -> str:
    """All reply texts joined, for assertions."""
    return "\n".join(r.text for r in replies)


def labels(replies: Sequence[Reply]) -> list[str]:
    """All button labels of the replies, in order."""
    return [b.label for r in replies for b in r.buttons]


def keys(replies: Sequence[Reply]) -> list[str | None]:
    """The message keys of the replies (None for a reply that is not one message)."""
    return [r.key for r in replies]
