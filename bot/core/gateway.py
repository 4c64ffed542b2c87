"""The core as channels see it: the one implementation of ``bot.core.ports.Core``.

Channels get a ``Gateway`` and reach the dispatcher, content, database and configuration only
through it, so a channel is its platform calls and rendering, and the core can change inside
without touching them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core import files
from bot.core.ports import Capabilities, FileMissing, ReloadListener, Respond, SharedFile
from storage.repos.delivery import SeenEventRepo, WebHistoryRepo, WebOutboxRepo
from storage.repos.keys import ServerKeyRepo
from storage.repos.users import UserRepo

if TYPE_CHECKING:
    from bot.content.messages import Messages
    from bot.content.problems import Problem
    from bot.core.dispatcher import Dispatcher
    from bot.core.events import Event
    from bot.core.replies import Reply
    from bot.core.services import Services

log = logging.getLogger(__name__)


class Gateway:
    """Implements ``Core`` over the dispatcher and the services."""

    def __init__(self, dispatcher: Dispatcher, services: Services) -> None:
        self.dispatcher = dispatcher
        self.services = services

    @property
    def messages(self) -> Messages:
        """The current user-facing texts."""
        return self.services.store.current.messages

    async def handle(
        self,
        event: Event,
        caps: Capabilities,
        respond: Respond | None = None,
        *,
        once: str | None = None,
        seq: int | None = None,
    ) -> list[Reply]:
        """One turn through the dispatcher (see ``Core.handle``)."""
        if respond is None and once is None:
            return await self.dispatcher.handle(event, caps)
        return await self.dispatcher.handle(event, caps, respond=respond, once=once, seq=seq)

    async def first_time(self, channel: str, event_id: str) -> bool:
        """Record a platform event id (old ids are pruned by ``bot.core.housekeeping``)."""
        async with self.services.db.transaction() as session:
            return await SeenEventRepo(session).first_time(channel, event_id)

    async def mark_unreachable(self, channel: str, external_id: str) -> None:
        """The user blocked the bot; writing to it again makes them reachable again."""
        async with self.services.db.transaction() as session:
            users = UserRepo(session)
            user = await users.find(channel, external_id)
            if user is not None:
                await users.mark_unreachable(user.id)

    async def file(self, ref: str) -> SharedFile | None:
        """The file behind a document reference, unless it expired; ``FileMissing`` if gone."""
        config = self.services.config
        try:
            found = await files.fetch(self.services.db, config, ref)
        except FileNotFoundError:
            # No part of the reference in the log: its token is the download link's secret.
            log.error(
                "a report file is missing from %s (teams.file_dir): every process must "
                "share that folder",
                files.folder(config),
            )
            raise FileMissing() from None
        if found is None:
            return None
        shared, data = found
        return SharedFile(name=shared.name, content_type=shared.content_type, data=data)

    def file_link(self, ref: str, *, relative: bool = False) -> str:
        """The download link of a document reference."""
        return files.file_url(self.services.config, ref, relative=relative)

    def content_file(self, relative: str) -> Path | None:
        """A file inside the content folder, or None (missing, or outside the folder)."""
        root = self.services.store.current.root.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def public_commands(self) -> set[str]:
        """Commands registered for everyone (no role needed)."""
        routes = self.dispatcher.routes.all
        return {r.key for r in routes if r.kind == "command" and r.roles is None and r.key}

    def on_reload(self, listener: ReloadListener) -> Callable[[], None]:
        """Call ``listener`` after every good content reload."""
        listeners = self.services.store.listeners

        async def heard(problems: list[Problem]) -> None:
            if not problems:
                await listener()

        listeners.append(heard)

        def stop() -> None:
            if heard in listeners:
                listeners.remove(heard)

        return stop

    async def outbox_put(self, external_id: str, items: Sequence[dict[str, Any]]) -> None:
        """Keep pushed replies for a web user."""
        async with self.services.db.transaction() as session:
            await WebOutboxRepo(session).put(external_id, list(items))

    async def outbox_take(self, external_id: str) -> list[dict[str, Any]]:
        """Remove and return a web user's kept replies."""
        async with self.services.db.transaction() as session:
            return await WebOutboxRepo(session).take(external_id)

    async def history_add(self, external_id: str, items: Sequence[dict[str, Any]]) -> None:
        """Append to a web chat's recent history, only for someone who consented.

        Before consent nothing is kept (what they typed may be personal), and a user who
        declined or erased their data has no history left.
        """
        async with self.services.db.transaction() as session:
            history = WebHistoryRepo(session)
            user = await UserRepo(session).find("web", external_id)
            if user is None or user.consent_at is None:
                await history.forget(external_id)
                return
            await history.add(external_id, list(items))

    async def history(self, external_id: str) -> list[dict[str, Any]]:
        """A web chat's recent history, oldest first."""
        async with self.services.db.transaction() as session:
            return await WebHistoryRepo(session).recent(external_id)

    async def web_session_key(self) -> bytes:
        """``WEB_SESSION_KEY``, else the key kept in the database (created on first use)."""
        configured = self.services.config.secrets.web_session_key
        if configured:
            return configured.encode("utf-8")
        async with self.services.db.transaction() as session:
            return (await ServerKeyRepo(session).get_or_create("web_session")).encode("ascii")
