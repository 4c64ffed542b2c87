"""The live content: validated before use, swapped atomically, last good version kept on error."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.content.messages import Intents, load_messages
from bot.content.problems import ContentError, Problem, ordered
from bot.content.sections import Reader
from bot.content.snapshot import Fingerprint, Snapshot, fingerprint, load_snapshot

log = logging.getLogger(__name__)

Listener = Callable[[list[Problem]], Awaitable[None]]


class ContentStore:
    """Holds the current snapshot. Readers take ``store.current`` once per event.

    With ``deferred``, only the messages are read at once (``ready`` is false, ``current`` has
    no knowledge, lessons or groups) and ``open()`` loads the rest off the event loop: the web
    server can answer ``/healthz`` and a "starting" reply while a large knowledge base builds.
    """

    def __init__(self, root: Path, *, deferred: bool = False) -> None:
        self.root = root
        self._fingerprint: Fingerprint = ()
        if deferred:
            self._current = starting_snapshot(root)
        else:
            self._current = load_snapshot(root)
            self._fingerprint = fingerprint(root)
        self._ready = asyncio.Event()
        if not deferred:
            self._ready.set()
        self._lock = asyncio.Lock()
        self.listeners: list[Listener] = []

    @property
    def current(self) -> Snapshot:
        """The last good content."""
        return self._current

    @property
    def ready(self) -> bool:
        """Whether the whole content (the knowledge index too) is loaded."""
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        """Return once the whole content is loaded."""
        await self._ready.wait()

    async def open(self) -> None:
        """Load the whole content in a thread; on problems raise ContentError, still not ready."""
        if self.ready:
            return
        async with self._lock:
            files = await asyncio.to_thread(fingerprint, self.root)
            self._current = await asyncio.to_thread(load_paused, self.root)
            self._fingerprint = files
            self._ready.set()
            log.info("content loaded from %s", self.root)

    async def reload(self, *, notify: bool = True) -> list[Problem]:
        """Validate the files and swap them in; on problems keep serving the old content.

        Listeners hear the outcome unless ``notify`` is false (the caller reports it itself).
        """
        async with self._lock:
            files = await asyncio.to_thread(fingerprint, self.root)
            try:
                snapshot = await asyncio.to_thread(load_paused, self.root, freeze=False)
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


def starting_snapshot(root: Path) -> Snapshot:
    """The messages alone (what a turn needs to say "starting"); raises ContentError."""
    reader = Reader(root.resolve())
    messages = load_messages(reader)
    if reader.problems:
        raise ContentError(ordered(reader.problems))
    return Snapshot(root=root.resolve(), messages=messages, intents=Intents(), groups=())


def load_paused(root: Path, *, freeze: bool = True) -> Snapshot:
    """``load_snapshot`` with the garbage collector paused; what it built is then frozen.

    Building an index allocates millions of small objects, each allocation counting towards
    a collection that would walk them all again; frozen, later collections skip them. Only the
    first load freezes (``freeze``): a reload's old snapshot must stay collectable.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return load_snapshot(root)
    finally:
        if freeze:
            gc.freeze()
        if was_enabled:
            gc.enable()
