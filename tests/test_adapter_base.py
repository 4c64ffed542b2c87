"""The adapter base every messenger channel shares: retries, jitter, the unreachable policy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from bot.app import App
from bot.channels.base import Adapter, Backoff
from bot.config import Config
from bot.core.ports import (
    Capabilities,
    DeliveryError,
    RetryAfter,
    Transient,
    Uncertain,
    Unreachable,
)
from bot.core.replies import Reply
from storage.db import Database
from storage.models import User, utcnow
from tests.fake_zalo import Citizen, FakeZalo, start_bot


class Scripted(Adapter):
    """An adapter whose platform raises the errors a test scripts."""

    name = "scripted"
    capabilities = Capabilities(buttons=False, images=False, max_text=100)
    retry_rate_limits = False

    async def deliver(self, address: str, replies: Sequence[Reply]) -> None:
        raise NotImplementedError

    def delivery_error(self, exc: Exception) -> DeliveryError | None:
        if isinstance(exc, ConnectionRefusedError):
            return Transient("refused")
        if isinstance(exc, TimeoutError):
            return Uncertain("no answer")
        if isinstance(exc, OverflowError):
            return RetryAfter(3)
        return None


@pytest.mark.parametrize(
    ("error", "raised", "calls"),
    [
        (ConnectionRefusedError, Transient, 4),  # proves nothing was sent: retried
        (TimeoutError, Uncertain, 1),  # may have arrived: never again
        (OverflowError, RetryAfter, 1),  # this platform's own limiter already retried
    ],
)
async def test_only_errors_that_prove_nothing_was_sent_are_retried(
    app: App, error: type[Exception], raised: type[DeliveryError], calls: int
) -> None:
    channel = Scripted(app.core, retry=Backoff((0.001, 0.001, 0.001)))
    made = 0

    async def action() -> None:
        nonlocal made
        made += 1
        raise error

    with pytest.raises(raised):
        await channel.call(action)
    assert made == calls


async def test_a_bug_is_not_taken_for_a_platform_error(app: App) -> None:
    channel = Scripted(app.core, retry=Backoff((0.001,)))

    async def action() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await channel.call(action)


def test_backoff_grows_is_capped_and_jittered() -> None:
    backoff = Backoff((1.0, 2.0), cap=5.0, jitter=0.5)
    for failures, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        pauses = [backoff.pause(failures) for _ in range(200)]
        assert all(base <= p <= base * 1.5 for p in pauses)
        assert len(set(pauses)) > 100, "processes failing together must not retry in lockstep"
    assert Backoff((1.0, 2.0)).attempts == 3


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    server = await FakeZalo(max_wait=0.2).start()
    yield server
    await server.stop()


async def test_zalo_checks_the_unreachable_mark_before_sending(
    config: Config, db: Database, fake: FakeZalo
) -> None:
    app = await start_bot(config, db, fake)
    try:
        async with db.transaction() as session:
            now = utcnow()
            user = User(
                channel="zalo",
                external_id="blocked",
                first_seen=now,
                last_seen=now,
                unreachable_at=now,
            )
            session.add(user)
        with pytest.raises(Unreachable):
            await app.services.deliver(user.id, [Reply(text="Thông báo của tổ")])
        assert fake.of("sendMessage") == []
    finally:
        await app.stop()


async def test_zalo_dedupe_keys_on_chat_and_message_id(
    config: Config, db: Database, fake: FakeZalo
) -> None:
    """Message ids are per chat: the same id in two chats is two messages (#18.12)."""
    app = await start_bot(config, db, fake, webhook=True)
    try:
        first = await Citizen(app, fake, chat_id="chat-a").send(
            fake.message("chat-a", "xin chào", message_id="same-id")
        )
        second = await Citizen(app, fake, chat_id="chat-b").send(
            fake.message("chat-b", "xin chào", message_id="same-id")
        )
        again = await Citizen(app, fake, chat_id="chat-b").send(
            fake.message("chat-b", "xin chào", message_id="same-id")
        )
        assert "Trợ lý số" in first and "Trợ lý số" in second
        assert again == ""
    finally:
        await app.stop()
