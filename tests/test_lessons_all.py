"""Every bundled lesson, walked end to end with its correct answers: with buttons, and on a
text-only channel by typing "tiếp" and letters."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from bot.channels.memory import MemoryChannel
from bot.content.snapshot import load_snapshot
from bot.core.replies import LETTERS
from storage.models import QuizAnswer, SkillCompletion, User
from tests.conftest import CONTENT, consent
from tests.replies import labels, texts

SKILL_IDS = [skill.id for skill in load_snapshot(CONTENT).lessons.skills]


def test_there_are_14_lessons() -> None:
    assert len(SKILL_IDS) == 14


async def test_walk_every_lesson_with_buttons(app: App, chat: MemoryChannel) -> None:
    for number, skill_id in enumerate(SKILL_IDS):
        await walk_with_buttons(app, chat, f"u{number}", skill_id)


async def walk_with_buttons(app: App, chat: MemoryChannel, user: str, skill_id: str) -> None:
    """One citizen takes one lesson with buttons, answering everything right."""
    skill = app.store.current.lessons.get(skill_id)
    assert skill is not None
    await consent(chat, user)
    await chat.press(user, "Bài học")
    replies = await chat.press(user, f"○ {skill.title}")
    for number, step in enumerate(skill.steps, start=1):
        assert f"Phần {number}/{len(skill.steps)}" in texts(replies), skill_id
        assert step.text.splitlines()[0] in texts(replies), skill_id
        assert labels(replies) == ["Tiếp", "Dừng bài học"], skill_id
        replies = await chat.press(user, "Tiếp")
    for number, question in enumerate(skill.quiz, start=1):
        asked = next(r for r in replies if r.choices)
        assert f"Câu {number}/{len(skill.quiz)}" in asked.text, skill_id
        assert question.text in asked.text, skill_id
        assert [b.label for b in asked.buttons] == list(question.choices), skill_id
        replies = await chat.press(user, question.answer)
        assert "Đúng rồi" in texts(replies), (skill_id, question.id)
    assert "Chúc mừng" in texts(replies), skill_id
    replies = await chat.press(user, "Bài học khác")
    assert f"✅ {skill.title}" in labels(replies), skill_id
    async with app.db.transaction() as session:
        mine = select(SkillCompletion).join(User).where(User.external_id == user)
        completion = (await session.execute(mine)).scalar_one()
    assert completion.skill_id == skill.id and completion.best_score == 1.0, skill_id


async def test_walk_every_lesson_typing_on_a_text_only_channel(
    app: App, text_chat: MemoryChannel
) -> None:
    for number, skill_id in enumerate(SKILL_IDS):
        await walk_typing(app, text_chat, f"z{number}", skill_id)


async def walk_typing(app: App, text_chat: MemoryChannel, user: str, skill_id: str) -> None:
    """One citizen takes one lesson typing "tiếp", numbers and letters only."""
    skill = app.store.current.lessons.get(skill_id)
    assert skill is not None
    await text_chat.say(user, "xin chào")
    await text_chat.say(user, "1")  # Đồng ý
    replies = await text_chat.say(user, "bai hoc")
    listing = "\n".join(text_chat.plain(replies))
    key = next(line.split(" ")[0] for line in listing.splitlines() if skill.title in line)
    replies = await text_chat.say(user, key)  # the keycap as shown ("3️⃣"): it works too
    for number in range(1, len(skill.steps) + 1):
        plain = "\n".join(text_chat.plain(replies))
        assert f"Phần {number}/{len(skill.steps)}" in plain, skill_id
        assert "1️⃣ Tiếp" in plain, skill_id
        replies = await text_chat.say(user, "tiep" if number % 2 else "1")
    for question in skill.quiz:
        plain = "\n".join(text_chat.plain(replies))
        for index, choice in enumerate(question.choices):
            assert f"{LETTERS[index]}. {choice}" in plain, (skill_id, question.id)
        replies = await text_chat.say(user, LETTERS[question.correct - 1])
        assert "Đúng rồi" in texts(replies), (skill_id, question.id)
    assert "Chúc mừng" in texts(replies), skill_id
    async with app.db.transaction() as session:
        mine = select(QuizAnswer).join(User).where(User.external_id == user)
        answers = (await session.execute(mine)).scalars().all()
    assert [a.question_id for a in answers] == [q.id for q in skill.quiz], skill_id
    assert all(a.correct and a.channel == "textonly" for a in answers), skill_id
