"""Two-way follow-up on a real Zalo OA channel (the fake OA server on 127.0.0.1): a member's
"Nhắn cho bác" arrives as an OA message with "Trả lời tổ", the citizen's tap and reply reach
that member; outside Zalo's 7-day window the member is told and the OA is not called."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.app import App
from bot.channels.memory import RICH, MemoryChannel
from bot.config import Config
from bot.zalo_oa import Accounts
from storage.db import Database
from storage.models import User
from storage.repos.lessons import LessonRepo
from storage.repos.teams import TeamRepo
from tests.fake_zalo_oa import OA_ID, FakeOA, OACitizen, oa_channel, start_bot
from tests.replies import texts
from tests.test_threads import _day, daytime


@pytest.fixture
async def fake() -> AsyncIterator[FakeOA]:
    server = await FakeOA().start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(config: Config, db: Database, fake: FakeOA) -> AsyncIterator[App]:
    app = await start_bot(config, db, fake)
    async with db.transaction() as session:
        await TeamRepo(session).create("Tổ CNS thôn Đông", "xã Đông Hòa", "thôn Đông", "DONG01")
    accounts = oa_channel(app).accounts
    assert isinstance(accounts, Accounts)
    await accounts.add(OA_ID, fake.new_oa(), ["DONG01"])
    daytime(app)
    yield app
    await app.stop()


async def test_message_from_who_needs_help_on_a_zalo_oa(
    bot: App, fake: FakeOA, db: Database
) -> None:
    citizen = OACitizen(bot, fake)
    sent = await citizen.follow()
    sent = await citizen.tap(sent, "Đồng ý")
    await citizen.tap(sent, "thôn Đông")
    async with db.transaction() as session:
        await session.execute(
            update(User).where(User.channel == "zalo_oa").values(display_name="Bác Tư")
        )
        oa_user = await session.scalar(select(User.id).where(User.channel == "zalo_oa"))
        assert oa_user is not None
        await LessonRepo(session).start(
            oa_user, "sk_vneid_level2", "zalo_oa", now=_day(3) - timedelta(days=30)
        )
        team = await TeamRepo(session).by_code("DONG01")
        assert team is not None
        invite = await TeamRepo(session).invite(team.id, "member", timedelta(days=1))
    member = MemoryChannel(bot.core, name="memory", capabilities=RICH)
    bot.channels[member.name] = member
    await member.say("lan", "/start", display_name="Chị Lan")
    await member.press("lan", "Đồng ý")
    await member.say("lan", invite.code)

    async def open_message() -> str:
        await member.say("lan", "tổ của tôi")
        await member.press("lan", "Ai cần giúp")
        await member.press("lan", "Bác Tư: ghi chú, nhắn tin")
        return texts(await member.press("lan", "Nhắn cho bác"))

    assert "Bạn gõ tin nhắn ngắn cho Bác Tư" in await open_message()
    replies = await member.say("lan", "Chủ nhật tổ hướng dẫn ở nhà văn hóa, bác ghé nhé.")
    assert "Đã gửi cho Bác Tư" in texts(replies)
    got = fake.to(citizen.user_id)[-1]
    assert "nhà văn hóa" in got.text and "Chị Lan" in got.text
    sent = await citizen.tap([got], "Trả lời tổ")
    assert "Bạn gõ lời nhắn cho Chị Lan" in "\n".join(s.text for s in sent)
    await citizen.say("Bác sẽ đến, cảm ơn cháu")
    assert "Bác sẽ đến" in member.sent["lan"][-1].text

    # outside the 7-day window: told plainly, the OA is not called
    async with db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.channel == "zalo_oa")
            .values(last_seen=_day(3) - timedelta(days=8))
        )
    attempts = len(fake.attempts)
    assert "quá 7 ngày chưa nhắn Zalo OA" in await open_message()
    assert len(fake.attempts) == attempts
