"""Every bundled lesson, walked end to end with its correct answers: with buttons, and on a
text-only channel by typing "tiếp" and letters."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import App
from bot.channels.memory import MemoryChannel, labels, texts
from bot.content.snapshot import load_snapshot
from bot.core.replies import LETTERS
from storage.models import QuizAnswer, SkillCompletion
from tests.conftest import CONTENT, consent

SKILL_IDS = [skill.id for skill in load_snapshot(CONTENT).lessons.skills]


def test_there_are_14_lessons() -> None:
    assert len(SKILL_IDS) == 14


@pytest.mark.parametrize("skill_id", SKILL_IDS)
async def test_walk_with_buttons(app: App, chat: MemoryChannel, skill_id: str) -> None:
    skill = app.store.current.lessons.get(skill_id)
    assert skill is not None
    await consent(chat, "u1")
    await chat.press("u1", "Bài học")
    replies = await chat.press("u1", f"○ {skill.title}")
    for number, step in enumerate(skill.steps, start=1):
        assert f"Phần {number}/{len(skill.steps)}" in texts(replies)
        assert step.text.splitlines()[0] in texts(replies)
        assert labels(replies) == ["Tiếp", "Dừng bài học"]
        replies = await chat.press("u1", "Tiếp")
    for number, question in enumerate(skill.quiz, start=1):
        asked = next(r for r in replies if r.choices)
        assert f"Câu {number}/{len(skill.quiz)}" in asked.text and question.text in asked.text
        assert [b.label for b in asked.buttons] == list(question.choices)
        replies = await chat.press("u1", question.answer)
        assert "Đúng rồi" in texts(replies)
    assert "Chúc mừng" in texts(replies)
    replies = await chat.press("u1", "Bài học khác")
    assert f"✅ {skill.title}" in labels(replies)
    async with app.db.transaction() as session:
        completion = (await session.execute(select(SkillCompletion))).scalar_one()
    assert completion.skill_id == skill.id and completion.best_score == 1.0


@pytest.mark.parametrize("skill_id", SKILL_IDS)
async def test_walk_typing_on_a_text_only_channel(
    app: App, text_chat: MemoryChannel, skill_id: str
) -> None:
    skill = app.store.current.lessons.get(skill_id)
    assert skill is not None
    await text_chat.say("z1", "xin chào")
    await text_chat.say("z1", "1")  # Đồng ý
    replies = await text_chat.say("z1", "bai hoc")
    listing = "\n".join(text_chat.plain(replies))
    key = next(line.split(".")[0] for line in listing.splitlines() if skill.title in line)
    replies = await text_chat.say("z1", key)
    for number in range(1, len(skill.steps) + 1):
        plain = "\n".join(text_chat.plain(replies))
        assert f"Phần {number}/{len(skill.steps)}" in plain
        assert "1. Tiếp" in plain
        replies = await text_chat.say("z1", "tiep" if number % 2 else "1")
    for question in skill.quiz:
        plain = "\n".join(text_chat.plain(replies))
        for index, choice in enumerate(question.choices):
            assert f"{LETTERS[index]}. {choice}" in plain
        replies = await text_chat.say("z1", LETTERS[question.correct - 1])
        assert "Đúng rồi" in texts(replies)
    assert "Chúc mừng" in texts(replies)
    async with app.db.transaction() as session:
        answers = (await session.execute(select(QuizAnswer))).scalars().all()
    assert [a.question_id for a in answers] == [q.id for q in skill.quiz]
    assert all(a.correct and a.channel == "textonly" for a in answers)
