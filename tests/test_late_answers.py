"""A platform answer that comes after our timeout never causes a second send (issue #18.1).

Fake platforms record each send as it arrives and answer it only after the bot's timeout. The
message may well have reached the citizen, so it is ``Uncertain``: retried neither by the
channel nor by the broadcast worker, and counted in the sender's report as "không rõ đã đến
hay chưa".
"""

from __future__ import annotations

from collections import Counter

from bot.app import App, build_app
from bot.broadcast.worker import BroadcastWorker
from bot.channels.base import Backoff
from bot.channels.telegram import TelegramChannel
from bot.config import Config
from storage.db import Database
from storage.models import TeamMembership, User, utcnow
from tests.broadcast_helpers import (
    Recorder,
    fast_config,
    lesson_broadcast,
    staff,
    tally,
    until_done,
    village,
)
from tests.fake_telegram import FakeTelegram
from tests.fake_zalo import Citizen, FakeZalo, start_bot, zalo

UNCERTAIN_LINE = "không rõ đã đến hay chưa (nền tảng không trả lời kịp)"


async def _broadcast(app: App, channel_name: str, externals: list[str]) -> tuple[int, Recorder]:
    """A lesson broadcast to citizens on ``channel_name`` from a lead on a recording channel."""
    lead_channel = Recorder()
    app.channels[lead_channel.name] = lead_channel
    team, _ = await village(app.db, 0)
    async with app.db.transaction() as session:
        now = utcnow()
        for external in externals:
            user = User(
                channel=channel_name,
                external_id=external,
                role="citizen",
                consent_at=now,
                first_seen=now,
                last_seen=now,
            )
            session.add(user)
            await session.flush()
            session.add(TeamMembership(user_id=user.id, team_id=team, joined_by="code"))
    lead = await staff(app.db, team)
    return await lesson_broadcast(app.db, team, by=lead), lead_channel


async def test_zalo_late_answer_is_uncertain_and_sent_once(config: Config, db: Database) -> None:
    fake = await FakeZalo(max_wait=0.2).start()
    app = await start_bot(config, db, fake)
    try:
        channel = zalo(app)
        channel.client.timeout = 0.3
        channel.retry = Backoff((0.01, 0.01, 0.01))
        citizens = [f"z{i}" for i in range(8)]
        fake.late = {"z2": 0.8, "z5": 0.8}
        bid, lead = await _broadcast(app, "zalo", citizens)
        w = BroadcastWorker(app.services, app.channels, config=fast_config(max_attempts=4))
        await until_done(w, app.db, bid)
        arrived = Counter(str(body["chat_id"]) for body in fake.received)
        assert {c: arrived[c] for c in citizens} == dict.fromkeys(citizens, 1)
        assert await tally(app.db, bid) == {"sent": 6, "failed": 2, "failed:uncertain": 2}
        (report,) = [r.text for user, r in lead.sent if user == "lead"]
        assert f"2 tin {UNCERTAIN_LINE}" in report
    finally:
        await app.stop()
        await fake.stop()


async def test_zalo_turn_reply_with_a_late_answer_is_not_repeated(
    config: Config, db: Database
) -> None:
    fake = await FakeZalo(max_wait=0.2).start()
    app = await start_bot(config, db, fake)
    try:
        zalo(app).client.timeout = 0.3
        fake.late = {"slow": 0.8}
        await Citizen(app, fake, chat_id="slow").say("xin chào")
        assert len([b for b in fake.received if b["chat_id"] == "slow"]) == 1
    finally:
        await app.stop()
        await fake.stop()


async def test_telegram_late_answer_is_uncertain_and_sent_once(
    config: Config, db: Database
) -> None:
    fake = FakeTelegram()
    await fake.start()
    app = build_app(config, db=db)
    channel = TelegramChannel(
        app.core,
        fake.token,
        base_url=fake.base_url,
        backoff=(0.01, 0.01, 0.01),
        poll_timeout=1.0,
        call_timeout=0.3,
    )
    app.channels[channel.name] = channel
    await channel.start()
    try:
        await channel.ready.wait()
        citizens = [str(7000 + i) for i in range(8)]
        for late in ("7002", "7005"):
            fake.delays[int(late)] = 0.8
        bid, lead = await _broadcast(app, "telegram", citizens)
        w = BroadcastWorker(app.services, app.channels, config=fast_config(max_attempts=4))
        await until_done(w, app.db, bid)
        arrived = Counter(c.chat_id for c in fake.of("sendMessage"))
        assert {c: arrived[int(c)] for c in citizens} == dict.fromkeys(citizens, 1)
        assert await tally(app.db, bid) == {"sent": 6, "failed": 2, "failed:uncertain": 2}
        (report,) = [r.text for user, r in lead.sent if user == "lead"]
        assert f"2 tin {UNCERTAIN_LINE}" in report
    finally:
        await channel.stop()
        await app.stop()
        await fake.stop()
