"""KeyedLocks: one key at a time in arrival order, other keys concurrently, nothing left behind."""

from __future__ import annotations

import asyncio

from bot.core.locks import KeyedLocks
from tests.waiting import eventually


async def test_same_key_in_order_other_keys_concurrently() -> None:
    locks = KeyedLocks()
    events: list[str] = []
    gate = asyncio.Event()

    async def work(key: str, name: str, wait: bool) -> None:
        async with locks(key):
            events.append(f"start {name}")
            if wait:
                await gate.wait()
            events.append(f"end {name}")

    first = asyncio.create_task(work("a", "a1", True))
    second = asyncio.create_task(work("a", "a2", False))
    other = asyncio.create_task(work("b", "b1", False))
    await eventually(lambda: events == ["start a1", "start b1", "end b1"])  # b did not wait
    gate.set()
    await asyncio.gather(first, second, other)
    assert events[3:] == ["end a1", "start a2", "end a2"]
    assert len(locks) == 0


async def test_lock_is_released_on_error() -> None:
    locks = KeyedLocks()
    try:
        async with locks("k"):
            raise ValueError
    except ValueError:
        pass
    async with asyncio.timeout(1), locks("k"):
        pass
    assert len(locks) == 0
