"""Teams in the chat: joining by link, code or village; member invites; who sees what; the
question route from a citizen to their team and back; in-person guidance; reports; privacy."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from PIL import Image
from sqlalchemy import func, select

from bot.app import App
from bot.channels.memory import MemoryChannel
from bot.core.replies import Reply
from storage.models import (
    AnonymousCount,
    GuidedSkill,
    LessonAttempt,
    SkillCompletion,
    Team,
    TeamMembership,
    TeamQuestion,
    User,
    utcnow,
)
from storage.repos.conversation import ConversationRepo
from storage.repos.lessons import LessonRepo
from storage.repos.teams import TeamRepo
from tests.conftest import consent, shared_bytes
from tests.replies import keys, labels, texts

MENU = [
    "Hỏi đáp",
    "Bài học",
    "Tiến độ của tôi",
    "Liên hệ tổ công nghệ số",
    "Kiểm tra tin lừa đảo",
]


async def make_team(
    app: App, village: str = "Thôn Đông", commune: str = "Xã Tân Hòa", code: str | None = None
) -> Team:
    async with app.db.transaction() as session:
        return await TeamRepo(session).create(f"Tổ CNS {village}", commune, village, code)


async def invite(app: App, team: Team | None, role: str = "member") -> str:
    async with app.db.transaction() as session:
        made = await TeamRepo(session).invite(team.id if team else None, role, timedelta(days=7))
        return made.code


async def make_member(
    app: App, channel: MemoryChannel, user: str, team: Team | None, role: str = "member"
) -> None:
    await consent(channel, user, name=f"Anh {user}")
    replies = await channel.say(user, await invite(app, team, role))
    assert "Chào mừng" in texts(replies) or "quản trị viên" in texts(replies)


async def user_row(app: App, external_id: str) -> User:
    async with app.db.transaction() as session:
        return (
            await session.execute(select(User).where(User.external_id == external_id))
        ).scalar_one()


async def team_id_of(app: App, external_id: str) -> int | None:
    user = await user_row(app, external_id)
    async with app.db.transaction() as session:
        membership = await session.get(TeamMembership, user.id)
        return membership.team_id if membership else None


def all_text(replies: list[Reply]) -> str:
    return texts(replies) + "\n" + "\n".join(labels(replies))


# --- joining ---------------------------------------------------------------------------------


async def test_deep_link_before_consent_joins_after_agreeing(chat: MemoryChannel, app: App) -> None:
    team = await make_team(app)
    replies = await chat.say("c1", f"/start {team.code}", display_name="Bác Ba")
    assert labels(replies)[0] == "Đồng ý"  # nothing before consent
    assert await team_id_of(app, "c1") is None
    replies = await chat.press("c1", "Đồng ý")
    assert "Bạn đã vào **Tổ CNS Thôn Đông**" in texts(replies)
    assert labels(replies) == MENU
    assert await team_id_of(app, "c1") == team.id


async def test_deep_link_after_consent_and_bad_code(chat: MemoryChannel, app: App) -> None:
    team = await make_team(app)
    await consent(chat, "c1")
    replies = await chat.say("c1", f"/start {team.code.lower()}")
    assert "Bạn đã vào" in texts(replies)
    replies = await chat.say("c1", f"/start {team.code}")
    assert "rồi" in texts(replies)
    replies = await chat.say("c1", "/start ZZZZZZ")
    assert "không đúng" in texts(replies)
    assert await team_id_of(app, "c1") == team.id


async def test_typed_code_on_a_text_only_channel(text_chat: MemoryChannel, app: App) -> None:
    team = await make_team(app)
    await consent(text_chat, "z1")
    code = f"{team.code[:3].lower()} {team.code[3:].lower()}"
    replies = await text_chat.say("z1", code)
    assert "Bạn đã vào" in texts(replies)
    assert "Trả lời số" in text_chat.plain(replies)[-1]
    assert await team_id_of(app, "z1") == team.id


async def test_typed_code_before_consent_is_used_after(text_chat: MemoryChannel, app: App) -> None:
    team = await make_team(app)
    await text_chat.say("z1", "xin chào", display_name="Cô Tư")
    replies = await text_chat.say("z1", team.code)
    assert "đồng ý" in texts(replies).lower()
    replies = await text_chat.say("z1", "1")  # "Đồng ý"
    assert "Bạn đã vào" in texts(replies)


async def test_choose_commune_and_village_at_onboarding(chat: MemoryChannel, app: App) -> None:
    await make_team(app, "Thôn Đông", "Xã Tân Hòa")
    west = await make_team(app, "Thôn Tây", "Xã Tân Hòa")
    await make_team(app, "Thôn Bắc", "Xã Bình An")
    await chat.say("c1", "xin chào", display_name="Bác Ba")
    replies = await chat.press("c1", "Đồng ý")
    assert "xã/phường nào" in texts(replies)
    assert labels(replies) == ["Xã Bình An", "Xã Tân Hòa", "Bỏ qua"]
    replies = await chat.press("c1", "Xã Tân Hòa")
    assert labels(replies) == ["Thôn Đông", "Thôn Tây", "Không thấy thôn của tôi"]
    replies = await chat.press("c1", "Thôn Tây")
    assert "Bạn đã vào **Tổ CNS Thôn Tây**" in texts(replies)
    assert await team_id_of(app, "c1") == west.id


async def test_skipping_the_village_leaves_the_bot_usable(chat: MemoryChannel, app: App) -> None:
    await make_team(app)
    await chat.say("c1", "xin chào", display_name="Bác Ba")
    replies = await chat.press("c1", "Đồng ý")
    assert labels(replies)[-1] == "Không thấy thôn của tôi"  # one commune: villages at once
    assert texts(replies).count("?") == 1  # one question per message (issue 17 item 7)
    replies = await chat.say("c1", "vào tổ")
    assert texts(replies).count("?") == 1, texts(replies)
    await chat.say("c1", "menu")
    await chat.press("c1", "Liên hệ tổ")
    replies = await chat.press("c1", "Chọn thôn của tôi")
    assert texts(replies).count("?") == 1, texts(replies)
    assert labels(replies)[-1] == "Không thấy thôn của tôi"
    replies = await chat.press("c1", "Không thấy thôn của tôi")
    assert labels(replies) == MENU
    assert await team_id_of(app, "c1") is None


async def test_member_invite_is_one_time(chat: MemoryChannel, app: App) -> None:
    team = await make_team(app)
    code = await invite(app, team, "lead")
    await consent(chat, "m1", name="Anh Nam")
    replies = await chat.say("m1", code)
    assert "tổ trưởng" in texts(replies)
    assert (await user_row(app, "m1")).role == "lead"
    assert await team_id_of(app, "m1") == team.id
    await consent(chat, "m2")
    replies = await chat.say("m2", code)
    assert "Chào mừng" not in texts(replies)
    assert (await user_row(app, "m2")).role == "citizen"
    # a member does not become a citizen of another team with a citizen code
    other = await make_team(app, "Thôn Tây")
    replies = await chat.say("m1", other.code)
    assert "thành viên của **Tổ CNS Thôn Đông**" in texts(replies)
    assert await team_id_of(app, "m1") == team.id


# --- who sees what -----------------------------------------------------------------------------


async def _two_teams(app: App, chat: MemoryChannel) -> tuple[Team, Team]:
    east = await make_team(app, "Thôn Đông")
    west = await make_team(app, "Thôn Tây")
    await make_member(app, chat, "mem-east", east)
    await make_member(app, chat, "mem-west", west)
    await consent(chat, "cit-east", name="Bác Ba Đông")
    await chat.say("cit-east", east.code)
    await consent(chat, "cit-west", name="Cô Tư Tây")
    await chat.say("cit-west", west.code)
    return east, west


async def leak(app: App, external_id: str, payload: str) -> str:
    """Offer a payload to a user directly, as if a bug had leaked a button: the handler must
    still refuse what the user may not see."""
    user = await user_row(app, external_id)
    async with app.db.transaction() as session:
        (token,) = await ConversationRepo(session).offer(user.id, [payload])
    return token


async def test_a_citizen_reaches_no_member_command(chat: MemoryChannel, app: App) -> None:
    east, _ = await _two_teams(app, chat)
    for typed in ("/team", "tổ của tôi", "to cua toi", "bao cao to", "/team 1"):
        replies = await chat.say("cit-east", typed)
        text = all_text(replies)
        assert "Người dân trong tổ" not in text and "Tóm tắt" not in text, typed
        assert "Bác Ba Đông" not in text and "Cô Tư Tây" not in text
    # typing a member's button label does nothing for a citizen
    for label in ("Tóm tắt", "Ai cần giúp", "Xuất bảng CSV", "Trả lời"):
        replies = await chat.say("cit-east", label)
        assert "Người dân: " not in texts(replies)
    # forged payloads (raw, not tokens) are stale
    for forged in (f"fu:sum:{east.id}", f"fu:csv:{east.id}", "tq:answer:1", "fu:home"):
        replies = await chat.press_token("cit-east", forged)
        assert keys(replies) == ["fallback.stale"]
    # and even a leaked token for a member route is invisible to a citizen (roles=STAFF)
    for payload in (f"fu:sum:{east.id}", f"fu:guided:{east.id}:1:sk_vneid_level2"):
        replies = await chat.press_token("cit-east", await leak(app, "cit-east", payload))
        assert "Người dân: " not in texts(replies)
        assert "Đã ghi nhận" not in texts(replies)
    async with app.db.transaction() as session:
        assert (await session.execute(select(func.count(GuidedSkill.id)))).scalar_one() == 0


async def test_a_member_sees_only_their_own_team(chat: MemoryChannel, app: App) -> None:
    east, west = await _two_teams(app, chat)
    replies = await chat.say("mem-west", "tổ của tôi")
    assert "**Tổ CNS Thôn Tây**" in texts(replies)
    assert "Người dân trong tổ: 1" in texts(replies)
    replies = await chat.press("mem-west", "Tóm tắt")
    assert "Người dân: 1" in texts(replies)
    replies = await chat.press("mem-west", "Công cụ của tổ")
    replies = await chat.press("mem-west", "Ghi nhận hướng dẫn trực tiếp")
    assert labels(replies)[:1] == ["Cô Tư Tây"] and "Bác Ba Đông" not in labels(replies)
    # the other team's views, even through leaked tokens, are refused
    for payload in (
        f"fu:sum:{east.id}",
        f"fu:stuck:{east.id}",
        f"fu:csv:{east.id}",
        f"fu:queue:{east.id}",
        "fu:home:0",
        f"fu:guided:{east.id}:{(await user_row(app, 'cit-east')).id}:sk_vneid_level2",
        f"fu:guided:{west.id}:{(await user_row(app, 'cit-east')).id}:sk_vneid_level2",
    ):
        replies = await chat.press_token("mem-west", await leak(app, "mem-west", payload))
        text = all_text(replies)
        assert "Bác Ba Đông" not in text, payload
        assert "Đã ghi nhận" not in text and not any(r.document for r in replies), payload
    async with app.db.transaction() as session:
        assert (await session.execute(select(func.count(GuidedSkill.id)))).scalar_one() == 0


async def test_an_admin_sees_every_team(chat: MemoryChannel, app: App) -> None:
    await _two_teams(app, chat)
    await make_member(app, chat, "admin", None, "admin")
    replies = await chat.say("admin", "/team")
    assert labels(replies)[:3] == ["Tổ CNS Thôn Đông", "Tổ CNS Thôn Tây", "Tất cả các tổ"]
    await chat.press("admin", "Tất cả các tổ")
    replies = await chat.press("admin", "Tóm tắt")
    assert "Người dân: 2" in texts(replies)
    await chat.press("admin", "Công cụ của tổ")
    replies = await chat.press("admin", "Xuất bảng CSV")
    document = next(r.document for r in replies if r.document)
    table = (await shared_bytes(app, document)).decode("utf-8-sig")
    assert "Bác Ba Đông" in table and "Cô Tư Tây" in table


# --- questions for a human -----------------------------------------------------------------------


async def test_question_goes_to_the_team_and_the_answer_comes_back(
    chat: MemoryChannel, text_chat: MemoryChannel, app: App
) -> None:
    east = await make_team(app)
    await make_member(app, chat, "mem", east)  # the member is on a channel with buttons
    await make_member(app, chat, "other-mem", await make_team(app, "Thôn Tây"))
    await consent(text_chat, "cit", name="Bác Ba")  # the citizen is on a text-only channel
    await text_chat.say("cit", east.code)
    replies = await text_chat.say("cit", "gửi câu hỏi cho tổ")
    assert "Bạn gõ câu hỏi" in texts(replies)
    replies = await text_chat.say("cit", "Làm sao để đổi chủ thuê bao điện thoại?")
    assert "Mình đã gửi câu hỏi của bạn cho **Tổ CNS Thôn Đông**" in texts(replies)
    pushed = chat.sent["mem"]
    assert "Câu hỏi mới cho Tổ CNS Thôn Đông" in pushed[-1].text
    assert "Bác Ba" in pushed[-1].text and "đổi chủ thuê bao" in pushed[-1].text
    assert "other-mem" not in chat.sent  # another team's member hears nothing
    replies = await chat.press("mem", "Trả lời")
    assert "Bạn gõ câu trả lời cho Bác Ba" in texts(replies)
    replies = await chat.say("mem", "Bác mang căn cước gắn chip ra cửa hàng của nhà mạng nhé.")
    assert "Đã gửi câu trả lời cho Bác Ba" in texts(replies)
    answer = text_chat.sent["cit"][-1]
    assert "Tổ CNS Thôn Đông trả lời câu hỏi của bạn" in answer.text
    assert "cửa hàng của nhà mạng" in answer.text and "đổi chủ thuê bao" in answer.text
    async with app.db.transaction() as session:
        question = (await session.execute(select(TeamQuestion))).scalar_one()
    member = await user_row(app, "mem")
    assert question.status == "answered" and question.answered_by == member.id
    assert question.answered_at is not None and question.team_id == east.id
    # pressing "Trả lời" again: already answered, by whom
    replies = await chat.press("mem", "Trả lời")
    assert "đã được Anh mem trả lời" in texts(replies)


async def test_the_queue_lists_open_questions(chat: MemoryChannel, app: App) -> None:
    east = await make_team(app)
    await consent(chat, "cit", name="Bác Ba")
    await chat.say("cit", east.code)
    await chat.press("cit", "Liên hệ tổ công nghệ số")
    replies = await chat.press("cit", "Gửi câu hỏi cho tổ")
    await chat.say("cit", "Câu hỏi một")
    await chat.say("cit", "/askteam")
    await chat.say("cit", "Câu hỏi một")
    assert "đã gửi rồi" in texts(chat.last["cit"])
    await make_member(app, chat, "mem", east)  # joins after: finds it in the queue
    await chat.say("mem", "/team")
    replies = await chat.press("mem", "Câu hỏi chờ trả lời")
    assert "Câu hỏi chờ trả lời: Tổ CNS Thôn Đông** (1)" in texts(replies)
    assert "Câu hỏi một" in texts(replies)
    replies = await chat.press("mem", "Trả lời")
    replies = await chat.press("mem", "Hủy")
    assert "Đã hủy" in texts(replies)
    async with app.db.transaction() as session:
        assert (await session.execute(select(TeamQuestion.status))).scalar_one() == "open"


async def test_citizen_without_a_team_reaches_the_admins(chat: MemoryChannel, app: App) -> None:
    await make_member(app, chat, "admin", None, "admin")
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    await consent(chat, "cit", name="Bác Năm")
    await chat.say("cit", "/askteam")
    replies = await chat.say("cit", "Tôi ở xã khác, hỏi ai?")
    assert "người phụ trách Trợ lý số" in texts(replies)
    assert "Câu hỏi mới chờ quản trị viên" in chat.sent["admin"][-1].text
    assert "mem" not in chat.sent
    await chat.press("admin", "Trả lời")
    await chat.say("admin", "Bác gõ mã tổ của thôn mình nhé.")
    assert "mã tổ của thôn" in chat.sent["cit"][-1].text
    # a member cannot answer from the admin queue
    async with app.db.transaction() as session:
        question_id = (await session.execute(select(TeamQuestion.id))).scalar_one()
    replies = await chat.press_token("mem", await leak(app, "mem", f"tq:answer:{question_id}"))
    assert "Bạn gõ câu trả lời" not in texts(replies)


# --- follow-up -----------------------------------------------------------------------------------


async def _progress(app: App, external_id: str) -> None:
    """A lesson left 10 days ago, a failed quiz, and a skill passed."""
    user = await user_row(app, external_id)
    old = utcnow() - timedelta(days=10)
    async with app.db.transaction() as session:
        lessons = LessonRepo(session)
        left = await lessons.start(user.id, "sk_vneid_level2", "memory", now=old)
        await lessons.reach_step(left, "di-dang-ky", 2, "memory", now=old)
        failed = await lessons.start(user.id, "sk_spot_phishing", "memory", quiz_only=True)
        await lessons.finish(failed, correct=2, total=5, passed=False)
        passed = await lessons.start(user.id, "sk_mobile_banking_safe", "memory", quiz_only=True)
        await lessons.finish(passed, correct=5, total=5, passed=True)


async def test_summary_stuck_guidance_chart_and_csv(chat: MemoryChannel, app: App) -> None:
    east = await make_team(app)
    await make_member(app, chat, "mem", east)
    await consent(chat, "cit", name="Bác Ba")
    await chat.say("cit", east.code)
    await consent(chat, "fresh", name="Chị Sáu")
    await chat.say("fresh", east.code)
    await _progress(app, "cit")
    lessons = app.store.current.lessons
    phishing = lessons.get("sk_spot_phishing").title  # type: ignore[union-attr]
    banking = lessons.get("sk_mobile_banking_safe").title  # type: ignore[union-attr]
    vneid = lessons.get("sk_vneid_level2")
    assert vneid is not None
    await chat.say("mem", "tổ của tôi")
    replies = await chat.press("mem", "Ai cần giúp")
    text = texts(replies)
    assert f"**Bác Ba**: {phishing} (chưa đạt bài kiểm tra: đúng 2/5)" in text
    steps = len(vneid.steps)
    assert f"**Bác Ba**: {vneid.title} (dừng ở bước 2/{steps}, 10 ngày chưa học tiếp)" in text
    assert "Chị Sáu" not in text
    replies = await chat.press("mem", f"Đã hướng dẫn: Bác Ba, {phishing[:24]}")
    assert "Đã ghi nhận" in texts(replies)
    await chat.press("mem", "Công cụ của tổ")
    replies = await chat.press("mem", "Ai cần giúp")
    assert "chưa đạt bài kiểm tra: đúng" not in texts(replies)  # guided in person: not stuck
    await chat.press("mem", "Công cụ của tổ")
    replies = await chat.press("mem", "Tóm tắt")
    text = texts(replies)
    assert "Người dân: 2" in text
    assert f"{phishing}: 1 (0 qua trợ lý, 1 trực tiếp)" in text
    assert ": 0 (0 qua trợ lý, 0 trực tiếp)" not in text  # no lines of zeros
    async with app.db.transaction() as session:
        guided = (await session.execute(select(GuidedSkill))).scalar_one()
        assert (await session.execute(select(func.count(SkillCompletion.id)))).scalar_one() == 1
    assert guided.guided_by == (await user_row(app, "mem")).id
    # chart
    await chat.press("mem", "Công cụ của tổ")
    replies = await chat.press("mem", "Biểu đồ tiến độ")
    ref = next(r.document for r in replies if r.document)
    assert ref.endswith(".png")
    png = await shared_bytes(app, ref)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width >= 1000
    # CSV
    await chat.press("mem", "Công cụ của tổ")
    replies = await chat.press("mem", "Xuất bảng CSV")
    ref = next(r.document for r in replies if r.document)
    data = await shared_bytes(app, ref)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, body = rows[0], {r[0]: r for r in rows[1:]}
    assert set(body) == {"Bác Ba", "Chị Sáu"}
    cell = dict(zip(header, body["Bác Ba"], strict=True))
    assert cell[f"{banking} (sk_mobile_banking_safe)"] == "đạt (100%)"
    assert cell[f"{phishing} (sk_spot_phishing)"] == "hướng dẫn trực tiếp"
    assert cell[f"{vneid.title} (sk_vneid_level2)"] == "đang học"
    assert cell["Đủ 5 kỹ năng cơ bản"] == "chưa"


async def test_five_basic_skills_are_counted(chat: MemoryChannel, app: App) -> None:
    east = await make_team(app)
    await make_member(app, chat, "mem", east)
    await consent(chat, "cit", name="Bác Ba")
    await chat.say("cit", east.code)
    user = await user_row(app, "cit")
    snapshot = app.store.current
    async with app.db.transaction() as session:
        lessons = LessonRepo(session)
        for job in (1, 2, 3, 4):
            skill = snapshot.lessons.by_job(job)[0]
            attempt = await lessons.start(user.id, skill.id, "memory", quiz_only=True)
            await lessons.finish(attempt, correct=5, total=5, passed=True)
    await chat.say("mem", "/team")
    replies = await chat.press("mem", "Tóm tắt")
    assert "Đạt đủ 5 kỹ năng cơ bản (mỗi nhóm việc ít nhất một kỹ năng): 0" in texts(replies)
    # the fifth job taught in person completes the five
    await chat.press("mem", "Công cụ của tổ")
    await chat.press("mem", "Ghi nhận hướng dẫn trực tiếp")
    await chat.press("mem", "Bác Ba")
    replies = await chat.press("mem", snapshot.lessons.by_job(5)[0].title[:60])
    assert "Đã ghi nhận" in texts(replies)
    await chat.press("mem", "Công cụ của tổ")
    replies = await chat.press("mem", "Tóm tắt")
    assert "Đạt đủ 5 kỹ năng cơ bản (mỗi nhóm việc ít nhất một kỹ năng): 1" in texts(replies)


# --- privacy -------------------------------------------------------------------------------------


async def test_my_data_and_deleting_it(chat: MemoryChannel, app: App) -> None:
    east = await make_team(app)
    await make_member(app, chat, "mem", east)
    await consent(chat, "cit", name="Bác Ba")
    await chat.say("cit", east.code)
    await _progress(app, "cit")
    await chat.say("cit", "/askteam")
    await chat.say("cit", "Câu hỏi của Bác Ba")
    replies = await chat.say("cit", "dữ liệu của tôi")
    text = texts(replies)
    assert "Tên hiển thị: Bác Ba" in text
    assert "Tổ: Tổ CNS Thôn Đông" in text
    assert "Câu hỏi đã gửi cho tổ: 1" in text
    assert "Kỹ năng đã đạt: Dùng ứng dụng ngân hàng an toàn" in text
    replies = await chat.press("cit", "Xóa dữ liệu của tôi")
    assert labels(replies) == ["Xóa hết dữ liệu", "Không, giữ lại"]
    replies = await chat.press("cit", "Không, giữ lại")
    assert "vẫn được giữ" in texts(replies)
    await chat.say("cit", "xoa du lieu cua toi")
    replies = await chat.press("cit", "Xóa hết dữ liệu")
    assert "đã xóa toàn bộ" in texts(replies) and labels(replies) == []
    async with app.db.transaction() as session:

        def count(model: Any) -> Any:
            return select(func.count()).select_from(model)

        assert (await session.execute(count(TeamQuestion))).scalar_one() == 0
        assert (await session.execute(count(LessonAttempt))).scalar_one() == 0
        assert (await session.execute(count(SkillCompletion))).scalar_one() == 0
        names = (await session.execute(select(User.display_name))).scalars().all()
        assert "Bác Ba" not in names
        kept = (await session.execute(select(AnonymousCount))).scalars().all()
    assert {(k.kind, k.skill_id, k.count) for k in kept} == {
        ("citizen", "", 1),
        ("question", "", 1),
        ("completion", "sk_mobile_banking_safe", 1),
    }
    await chat.say("mem", "/team")
    replies = await chat.press("mem", "Tóm tắt")
    text = texts(replies)
    assert "Người dân: 0" in text and "Đã xóa dữ liệu: 1 người" in text
    assert "Dùng ứng dụng ngân hàng an toàn: 1 (1 qua trợ lý, 0 trực tiếp)" in text
    assert "Bác Ba" not in text
    # starting again is a new person
    replies = await chat.say("cit", "xin chào", display_name="Bác Ba")
    assert labels(replies)[0] == "Đồng ý"


# --- from the knowledge matcher to the team ----------------------------------------------------


async def test_a_fall_back_or_a_thumbs_down_offers_to_ask_the_team(
    chat: MemoryChannel, app: App
) -> None:
    east = await make_team(app)
    await make_member(app, chat, "mem", east)
    await consent(chat, "cit", name="Bác Ba")
    await chat.say("cit", east.code)
    replies = await chat.say("cit", "tối nay đội tuyển bóng đá đá mấy giờ")
    assert "Gửi câu hỏi cho tổ" in labels(replies)
    replies = await chat.press("cit", "Gửi câu hỏi cho tổ")
    assert "Mình đã gửi câu hỏi của bạn" in texts(replies)
    assert "đội tuyển bóng đá" in chat.sent["mem"][-1].text
    replies = await chat.say("cit", "quên mật khẩu VNeID thì làm sao")
    assert "👎 Chưa" in labels(replies)
    replies = await chat.press("cit", "👎 Chưa")
    assert "Gửi câu hỏi cho tổ" in labels(replies)
    await chat.press("cit", "Gửi câu hỏi cho tổ")
    assert "quên mật khẩu VNeID" in chat.sent["mem"][-1].text
    async with app.db.transaction() as session:
        sources = (await session.execute(select(TeamQuestion.source))).scalars().all()
    assert sorted(sources) == ["fallback", "feedback"]
    # another user's question log id, even if a button for it leaked, sends nothing
    replies = await chat.press_token("mem", await leak(app, "mem", "tq:log:1"))
    assert "Bạn gõ câu hỏi trước" in texts(replies)


async def test_leaving_an_answer_half_way_sends_nothing_later(
    chat: MemoryChannel, app: App
) -> None:
    east = await make_team(app)
    await make_member(app, chat, "mem", east)
    await consent(chat, "cit", name="Bác Ba")
    await chat.say("cit", east.code)
    await chat.say("cit", "/askteam")
    await chat.say("cit", "Câu hỏi một")
    await chat.press("mem", "Trả lời")
    await chat.say("mem", "menu")  # does something else instead of answering
    replies = await chat.say("mem", "quên mật khẩu VNeID")  # a question of their own
    assert "Đã gửi câu trả lời" not in texts(replies)
    assert "cit" not in {k for k, v in chat.sent.items() if v}
    async with app.db.transaction() as session:
        assert (await session.execute(select(TeamQuestion.status))).scalar_one() == "open"


async def test_members_reach_team_tools_and_broadcasts_from_the_menu(
    app: App, chat: MemoryChannel
) -> None:
    """A member's main menu leads to the team tools, which lead to composing a broadcast."""
    await consent(chat, "cit")
    assert "Công cụ của tổ" not in labels(chat.last["cit"])
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    replies = await chat.say("mem", "menu")
    assert labels(replies)[: len(MENU)] == MENU
    replies = await chat.press("mem", "Công cụ của tổ")
    assert "Gửi bài học cho thôn" in labels(replies)
    replies = await chat.press("mem", "Gửi bài học cho thôn")
    assert replies and "Gửi bài học cho thôn" not in labels(replies)
