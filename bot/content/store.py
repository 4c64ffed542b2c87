"""The live content: validated before use, swapped atomically, last good version kept on error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.content.problems import ContentError, Problem
from bot.content.snapshot import Snapshot, fingerprint, load_snapshot

log = logging.getLogger(__name__)

Listener = Callable[[list[Problem]], Awaitable[None]]


class ContentStore:
    """Holds the current snapshot. Readers take ``store.current`` once per event."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._current = load_snapshot(root)
        self._fingerprint = fingerprint(root)
        self._lock = asyncio.Lock()
        self.listeners: list[Listener] = []

    @property
    def current(self) -> Snapshot:
        """The last good content."""
        return self._current

    async def reload(self, *, notify: bool = True) -> list[Problem]:
        """Validate the files and swap them in; on problems keep serving the old content.

        Listeners hear the outcome unless ``notify`` is false (the caller reports it itself).
        """
        async with self._lock:
            files = await asyncio.to_thread(fingerprint, self.root)
            try:
                snapshot = await asyncio.to_thread(load_snapshot, self.root)
            except ContentError as exc:
                self._fingerprint = files
                log.warning("content reload refused: %d problem(s)", len(exc.problems))
                for problem in exc.problems:
                    log.warning("content: %s", problem)
                if notify:
                    await self._notify(exc.problems)
                return exc.problems
            self._current = snapshot
            self._fingerprint = files
            log.info("content reloaded from %s", self.root)
            if notify:
                await self._notify([])
            return []

    async def _notify(self, problems: list[Problem]) -> None:
        for listener in self.listeners:
            try:
                await listener(problems)
            except Exception:
                log.exception("content reload listener failed")

    async def changed(self) -> bool:
        """Whether any content file changed since the last load."""
        return await asyncio.to_thread(fingerprint, self.root) != self._fingerprint

    async def watch(self, interval: float) -> None:
        """Reload whenever the files change; runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                if await self.changed():
                    await self.reload()
            except Exception:
                log.exception("content watcher failed; will retry")
