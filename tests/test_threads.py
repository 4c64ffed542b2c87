"""Two-way follow-up (issue 17 item 12): a citizen answers the member who answered them, the
same member answers again; a member writes first from "Ai cần giúp" within the channel's
rules (opt-out, quiet hours, Zalo OA's 7-day window), and is told when it did not go."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bot.app import App, build_app
from bot.channels.memory import RICH, MemoryChannel
from bot.config import Config
from bot.core.ports import Unreachable
from bot.core.replies import Reply
from storage.db import Database
from storage.models import FollowupMessage, FollowupThread, TeamQuestion, User
from tests.conftest import consent
from tests.replies import labels, texts
from tests.test_teams import make_member, make_team, user_row


def _day(hour_utc: int) -> datetime:
    return datetime.now(UTC).replace(hour=hour_utc, minute=0, second=0, microsecond=0)


def daytime(app: App) -> None:
    """10:00 in Vietnam: outside quiet hours, whatever time the tests run."""
    app.services.clock = lambda: _day(3)


async def _ask(text_chat: MemoryChannel, code: str) -> None:
    await consent(text_chat, "cit", name="Bác Ba")
    await text_chat.say("cit", code)
    await text_chat.say("cit", "/askteam")
    await text_chat.say("cit", "Cài VNeID mức 2 ở đâu?")


async def test_citizen_replies_to_the_same_member_who_answers_again(
    chat: MemoryChannel, text_chat: MemoryChannel, app: App, config: Config, db: Database
) -> None:
    daytime(app)
    east = await make_team(app)
    await make_member(app, chat, "mem", east)
    await make_member(app, chat, "mem2", east)
    await _ask(text_chat, east.code)  # the citizen is on a text-only channel
    assert "Câu hỏi mới" in chat.sent["mem2"][-1].text  # the whole team hears the question
    await chat.press("mem", "Trả lời")
    await chat.say("mem", "Bác ra công an xã mang căn cước nhé.")
    answer = text_chat.sent["cit"][-1]
    assert "mang căn cước" in answer.text and labels([answer]) == ["Trả lời tổ"]
    heard_by_mem2 = len(chat.sent["mem2"])

    # "1" presses "Trả lời tổ" on a text-only channel
    replies = await text_chat.say("cit", "1")
    assert "Bạn gõ lời nhắn cho Anh mem" in texts(replies)
    replies = await text_chat.say("cit", "Mấy giờ công an xã làm việc cháu?")
    assert "Mình đã chuyển lời bạn cho Anh mem" in texts(replies)
    pushed = chat.sent["mem"][-1]
    assert "Bác Ba trả lời bạn" in pushed.text and "Mấy giờ" in pushed.text
    assert "Cài VNeID mức 2" in pushed.text  # what it is about
    assert len(chat.sent["mem2"]) == heard_by_mem2  # not the whole team
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(TeamQuestion)) == 1

    # a restart: another process (a new app on the same database) carries the thread on
    await app.stop()
    again = build_app(config, db=db)
    daytime(again)
    member = MemoryChannel(again.core, name="memory", capabilities=RICH)
    citizen = MemoryChannel(again.core, name="textonly", capabilities=text_chat.capabilities)
    again.channels.update({member.name: member, citizen.name: citizen})
    member.sent, member.last = chat.sent, chat.last
    replies = await member.press("mem", "Trả lời bác")
    assert "Bạn gõ câu trả lời cho Bác Ba" in texts(replies) and "Mấy giờ" in texts(replies)
    replies = await member.say("mem", "Sáng 7 giờ rưỡi đến 11 giờ bác ạ.")
    assert "Đã gửi cho Bác Ba" in texts(replies)
    second = citizen.sent["cit"][-1]
    assert "Anh mem (Tổ CNS Thôn Đông) trả lời bạn" in second.text and "7 giờ rưỡi" in second.text
    # simply typing within the window continues the thread, to the same member
    replies = await citizen.say("cit", "Cảm ơn cháu nhiều")
    assert "chuyển lời bạn cho Anh mem" in texts(replies)
    assert "Cảm ơn cháu nhiều" in member.sent["mem"][-1].text
    async with db.transaction() as session:
        said = (
            (await session.execute(select(FollowupMessage).order_by(FollowupMessage.id)))
            .scalars()
            .all()
        )
        assert [m.from_citizen for m in said] == [True, False, True]
        # the window closes: typed text goes back to the bot's answers
        await session.execute(
            update(FollowupThread).values(updated_at=_day(3) - timedelta(hours=25))
        )
    await citizen.say("cit", "1")  # "Nhắn thêm" is still offered...
    await citizen.say("cit", "/menu")
    replies = await citizen.say("cit", "cách cài VNeID")
    assert "chuyển lời" not in texts(replies)
    await again.stop()


async def test_a_reply_goes_to_the_team_queue_when_the_member_left(
    chat: MemoryChannel, app: App, db: Database
) -> None:
    daytime(app)
    east = await make_team(app)
    await make_member(app, chat, "mem", east)
    await _ask(chat, east.code)
    await chat.press("mem", "Trả lời")
    await chat.say("mem", "Bác ra công an xã nhé.")
    mem = await user_row(app, "mem")
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == mem.id).values(role="citizen"))
    await chat.press("cit", "Trả lời tổ")
    replies = await chat.say("cit", "Công an xã ở đâu?")
    assert "Mình đã gửi câu hỏi của bạn cho **Tổ CNS Thôn Đông**" in texts(replies)
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(TeamQuestion)) == 2


class Blocked(MemoryChannel):
    """A channel whose platform says the user blocked the bot."""

    async def send(self, external_id: str, replies: Sequence[Reply]) -> None:
        raise Unreachable("blocked")


async def _stuck(app: App, channel: MemoryChannel, code: str, name: str = "cit") -> None:
    from storage.repos.lessons import LessonRepo

    await consent(channel, name, name="Bác Ba")
    await channel.say(name, code)
    user = await user_row(app, name)
    async with app.db.transaction() as session:
        await LessonRepo(session).start(
            user.id, "sk_vneid_level2", channel.name, now=_day(3) - timedelta(days=30)
        )


async def _open_message(chat: MemoryChannel) -> list[Reply]:
    await chat.say("mem", "/team")
    await chat.press("mem", "Ai cần giúp")
    await chat.press("mem", "Bác Ba: ghi chú, nhắn tin")
    return await chat.press("mem", "Nhắn cho bác")


async def test_a_member_messages_a_citizen_from_who_needs_help(
    chat: MemoryChannel, text_chat: MemoryChannel, app: App
) -> None:
    daytime(app)
    east = await make_team(app)
    await make_member(app, chat, "mem", east)
    await _stuck(app, text_chat, east.code)
    replies = await _open_message(chat)
    assert "Bạn gõ tin nhắn ngắn cho Bác Ba" in texts(replies)
    replies = await chat.say("mem", "x" * 501)
    assert "dài quá 500" in texts(replies)
    replies = await chat.say("mem", "Chủ nhật này tổ có buổi hướng dẫn ở nhà văn hóa, bác ghé nhé.")
    assert "Đã gửi cho Bác Ba" in texts(replies)
    got = text_chat.sent["cit"][-1]
    assert "Tin nhắn từ Anh mem (Tổ CNS Thôn Đông)" in got.text and "nhà văn hóa" in got.text
    replies = await text_chat.say("cit", "Bác sẽ đến")  # typed straight away: the reply
    assert "chuyển lời bạn cho Anh mem" in texts(replies)
    assert "Bác sẽ đến" in chat.sent["mem"][-1].text
    assert "tin nhắn của bạn" in chat.sent["mem"][-1].text

    # after "dừng nhận tin": refused, said clearly, nothing sent
    await text_chat.say("cit", "dừng nhận tin")
    before = len(text_chat.sent["cit"])
    replies = await _open_message(chat)
    assert "đã chọn “dừng nhận tin”" in texts(replies) and "Bạn gõ" not in texts(replies)
    assert len(text_chat.sent["cit"]) == before


async def test_quiet_hours_the_zalo_window_and_a_failed_delivery_are_told(
    chat: MemoryChannel, app: App, db: Database
) -> None:
    daytime(app)
    east = await make_team(app)
    await make_member(app, chat, "mem", east)
    oa = MemoryChannel(app.core, name="zalo_oa", capabilities=RICH)
    app.channels[oa.name] = oa
    await _stuck(app, oa, east.code)
    # outside Zalo's 7-day window
    cit = await user_row(app, "cit")
    async with db.transaction() as session:
        await session.execute(
            update(User).where(User.id == cit.id).values(last_seen=_day(3) - timedelta(days=8))
        )
    replies = await _open_message(chat)
    assert "quá 7 ngày chưa nhắn Zalo OA" in texts(replies) and "Bạn gõ" not in texts(replies)
    assert "cit" not in oa.sent
    # quiet hours (22:00 in Vietnam)
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == cit.id).values(last_seen=_day(3)))
    app.services.clock = lambda: _day(15)
    replies = await _open_message(chat)
    assert "giờ nghỉ (21:00–07:00)" in texts(replies)
    # the platform refuses at sending time: the member is told, once
    daytime(app)
    app.channels[oa.name] = Blocked(app.core, name="zalo_oa", capabilities=RICH)
    await _open_message(chat)
    await chat.say("mem", "Bác ơi mai tổ qua nhà nhé")
    assert "đã chặn hoặc bỏ theo dõi trợ lý" in chat.sent["mem"][-1].text
