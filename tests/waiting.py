"""The one way tests wait: ``eventually(check)`` polls until ``check()`` is truthy."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    within: float = ...,
    every: float = ...,
    describe: Callable[[], object] | None = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T],
    *,
    within: float = ...,
    every: float = ...,
    describe: Callable[[], object] | None = ...,
) -> T: ...


async def eventually(
    check: Callable[[], Any],
    *,
    within: float = 10.0,
    every: float = 0.005,
    describe: Callable[[], object] | None = None,
) -> Any:
    """Wait until ``check()`` (sync or async) gives a truthy value, and return it; after
    ``within`` seconds fail with ``describe()`` (what the test saw) in the message."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            seen = describe() if describe is not None else None
            if inspect.isawaitable(seen):
                seen = await seen
            raise AssertionError(
                f"condition not met within {within:g} s" + (f": {seen}" if seen else "")
            )
        await asyncio.sleep(every)
