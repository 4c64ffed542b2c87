"""An in-memory channel for tests and the console: events in, replies out, pushes recorded."""

from __future__ import annotations

from collections.abc import Sequence

from bot.channels.base import Channel
from bot.channels.plain import render_plain
from bot.core.events import ButtonPress, Event, Sender, TextMessage
from bot.core.ports import Capabilities, Core
from bot.core.replies import Reply

RICH = Capabilities(buttons=True, images=True, max_text=4096, markup="raw")
TEXT_ONLY = Capabilities(buttons=False, images=False, max_text=2000, markup="plain")


class MemoryChannel(Channel):
    """Talks to the core directly. ``sent`` records what was pushed to each user."""

    def __init__(self, core: Core, name: str = "memory", capabilities: Capabilities = RICH) -> None:
        super().__init__(core)
        self.name = name
        self.capabilities = capabilities
        self.sent: dict[str, list[Reply]] = {}
        self.last: dict[str, list[Reply]] = {}
        self.names: dict[str, str] = {}

    def sender(self, user: str, display_name: str | None = None) -> Sender:
        """The sender for a test user id; the platform repeats the display name on every event."""
        if display_name:
            self.names[user] = display_name
        return Sender(channel=self.name, external_id=user, display_name=self.names.get(user))

    async def event(self, event: Event) -> list[Reply]:
        """Feed any event; returns the replies."""
        replies = await self.core.handle(event, self.capabilities)
        self.last[event.sender.external_id] = replies
        return replies

    async def say(self, user: str, text: str, display_name: str | None = None) -> list[Reply]:
        """The user types ``text``."""
        return await self.event(TextMessage(sender=self.sender(user, display_name), text=text))

    async def press(self, user: str, label: str) -> list[Reply]:
        """The user presses the button labelled ``label`` (or containing it) from recent replies."""
        for reply in reversed(self.last.get(user, []) + self.sent.get(user, [])):
            for button in reply.buttons:
                if button.label == label:
                    return await self.event(
                        ButtonPress(sender=self.sender(user), payload=button.payload)
                    )
        for reply in reversed(self.last.get(user, []) + self.sent.get(user, [])):
            for button in reply.buttons:
                if label in button.label:
                    return await self.event(
                        ButtonPress(sender=self.sender(user), payload=button.payload)
                    )
        raise AssertionError(f"no button {label!r} in the last replies to {user}")

    async def press_token(self, user: str, token: str) -> list[Reply]:
        """The user's client sends a raw button token (possibly forged)."""
        return await self.event(ButtonPress(sender=self.sender(user), payload=token))

    def plain(self, replies: Sequence[Reply]) -> list[str]:
        """How a text-only channel would show these replies."""
        return render_plain(replies, self.core.messages, self.capabilities.max_text)

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        """Record pushed replies."""
        self.sent.setdefault(external_id, []).extend(replies)
