"""A citizen whose platform gives no name (the web chat) is asked once, after consent, what the
team should call them (issue 17 item 5): optional, one question, and then members see that name
instead of "Người dùng #1"."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import App
from bot.channels.memory import RICH, MemoryChannel
from storage.models import User
from tests.conftest import consent
from tests.replies import labels, texts
from tests.test_teams import make_member, make_team

MENU_START = ["Hỏi đáp", "Bài học"]


async def _name_of(app: App, external_id: str) -> str | None:
    async with app.db.transaction() as s:
        user = (await s.execute(select(User).where(User.external_id == external_id))).scalar_one()
        return user.display_name


@pytest.fixture
def chat(app: App) -> MemoryChannel:
    """A channel named like the web chat (which gives no display name)."""
    channel = MemoryChannel(app.core, name="web", capabilities=RICH)
    app.channels[channel.name] = channel
    return channel


async def test_a_nameless_citizen_names_themselves_and_members_see_it(
    app: App, chat: MemoryChannel
) -> None:
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    await chat.say("w1", f"/start {team.code}")  # no display name, like the web chat
    replies = await chat.press("w1", "Đồng ý")
    assert texts(replies).count("?") == 1 and labels(replies) == ["Bỏ qua"]
    replies = await chat.say("w1", "x" * 41)
    assert "tối đa 40" in texts(replies)
    replies = await chat.say("w1", "  Cô   Tư  ")
    assert "Chào Cô Tư!" in texts(replies)
    assert "Bạn đã vào" in texts(replies)  # then on as after consent: the team's code
    assert await _name_of(app, "w1") == "Cô Tư"
    await chat.press("w1", "Liên hệ tổ")
    await chat.press("w1", "Gửi câu hỏi cho tổ")
    await chat.say("w1", "Cài VNeID thế nào ạ?")
    assert "Cô Tư" in texts(chat.sent["mem"])  # the push names her
    assert "Người dùng #" not in texts(chat.sent["mem"])


async def test_the_name_is_optional_and_not_asked_when_the_platform_gives_one(
    app: App, chat: MemoryChannel
) -> None:
    await chat.say("w2", "xin chào")
    await chat.press("w2", "Đồng ý")
    replies = await chat.press("w2", "Bỏ qua")
    assert labels(replies)[:2] == MENU_START
    assert await _name_of(app, "w2") is None
    await consent(chat, "z1", name="Bác Ba")  # Zalo/Telegram give a name: no question
    assert labels(chat.last["z1"])[:2] == MENU_START
