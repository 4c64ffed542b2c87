""" "Tiến độ của tôi": each job with the skills passed, and congratulations for the five jobs."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from bot.channels.memory import MemoryChannel
from storage.models import User
from storage.repos.lessons import LessonRepo
from tests.conftest import consent
from tests.replies import labels, texts

ONE_PER_JOB = {
    1: "sk_vneid_level2",
    2: "sk_qr_payment",
    3: "sk_online_shopping_safe",
    4: "sk_spot_phishing",
    5: "sk_local_platform",
}


async def pass_directly(app: App, external_id: str, *skill_ids: str) -> None:
    """Record passes straight through the repository (the flow itself is tested elsewhere)."""
    async with app.db.transaction() as session:
        user = (
            await session.execute(select(User).where(User.external_id == external_id))
        ).scalar_one()
        repo = LessonRepo(session)
        for skill_id in skill_ids:
            attempt = await repo.start(user.id, skill_id, user.channel, quiz_only=True)
            await repo.finish(attempt, correct=3, total=3, passed=True)


async def take(chat: MemoryChannel, app: App, user: str, skill_id: str) -> str:
    skill = app.store.current.lessons.get(skill_id)
    assert skill is not None
    await chat.say(user, "bài học")
    replies = await chat.press(user, skill.title)
    for _ in skill.steps:
        replies = await chat.press(user, "Tiếp")
    for question in skill.quiz:
        replies = await chat.press(user, question.answer)
    return texts(replies)


async def test_nothing_passed_yet(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    replies = await chat.press("u1", "Tiến độ của tôi")
    text = texts(replies)
    assert "Tiến độ của bạn" in text
    assert "Nhiệm vụ" not in text  # the teams' word, not the citizen's
    assert "(0/" not in text  # no lines of zeros
    assert "chưa học xong bài nào" in text
    assert "✅" not in text
    assert labels(replies) == ["Bài học", "Menu"]


async def test_each_job_with_the_skills_passed(app: App, chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    await pass_directly(app, "u1", "sk_spot_phishing", "sk_spot_phone_scam", "sk_vneid_level2")
    await chat.say("u1", "bài học")
    await chat.press("u1", "Trả tiền bằng mã QR")  # in progress
    replies = await chat.say("u1", "tiến độ")
    text = texts(replies)
    lessons = app.store.current.lessons
    for skill_id in ("sk_spot_phishing", "sk_spot_phone_scam", "sk_vneid_level2"):
        skill = lessons.get(skill_id)
        assert skill is not None and f"✅ {skill.title}" in text
    assert "**Tránh lừa đảo** (2/5 bài)" in text
    assert "**Dịch vụ công** (1/3 bài)" in text
    assert "(0/" not in text  # groups with nothing passed are left out
    assert "Đang học dở: Trả tiền bằng mã QR" in text
    assert "2/5 việc số cơ bản" in text
    assert "Chúc mừng" not in text


async def test_five_jobs_reached_are_congratulated(app: App, chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    await pass_directly(app, "u1", "sk_install_official_app")  # basics is not one of the five
    await pass_directly(app, "u1", *[ONE_PER_JOB[job] for job in (1, 2, 3)])
    replies = await chat.say("u1", "tiến độ của tôi")
    assert "3/5 việc số cơ bản" in texts(replies) and "Chúc mừng" not in texts(replies)
    result = await take(chat, app, "u1", ONE_PER_JOB[4])
    assert "Chúc mừng bạn đã học xong" in result and "5 kỹ năng số cơ bản" not in result
    result = await take(chat, app, "u1", ONE_PER_JOB[5])
    assert "đủ 5 kỹ năng số cơ bản" in result  # said right away, with the last result
    replies = await chat.press("u1", "Tiến độ của tôi")
    text = texts(replies)
    assert "Chúc mừng bạn!" in text and "đủ 5 kỹ năng số cơ bản" in text
    assert text.count("✅") == 6
    # Passing again later does not congratulate twice.
    result = await take(chat, app, "u1", ONE_PER_JOB[5])
    assert "đủ 5 kỹ năng" not in result


async def test_progress_on_a_text_only_channel(app: App, text_chat: MemoryChannel) -> None:
    await text_chat.say("z1", "xin chào")
    await text_chat.say("z1", "1")
    await pass_directly(app, "z1", "sk_spot_phishing")
    replies = await text_chat.say("z1", "3")  # "Tiến độ của tôi" in the menu
    plain = "\n".join(text_chat.plain(replies))
    assert "✅ Nhận diện tin nhắn và đường link giả" in plain
    assert "**" not in plain
    assert "1️⃣ Bài học" in plain
