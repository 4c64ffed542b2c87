"""Extension points: a feature declares a ``Hook``; other features add to it through their
router (``router.extend(hook, fn)``); the declaring feature reads ``ctx.extensions(hook)``."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Hook(Generic[T]):
    """An extension point, named for messages; what is added to it has type ``T``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Hook({self.name!r})"


class Extensions(Protocol):
    """Where the contributions to hooks are collected (``bot.core.router.Routes``)."""

    def extensions(self, hook: Hook[T]) -> list[T]:
        """The contributions to ``hook``, in router order."""
        ...
