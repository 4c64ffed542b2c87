"""Spaced review: after a safety skill is passed, quiz questions come back after 3 and 10 days
(time injected), a wrong answer shows the explanation, answers are stored, and "Tiến độ" shows
what is remembered ("Nhớ chắc") and what to review ("Nên ôn lại")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.broadcast.nudge_text import review_questions
from bot.channels.memory import RICH, MemoryChannel
from bot.config import Config
from bot.content.lessons import QuizQuestion, Skill
from storage.db import Database
from storage.models import Nudge, ReviewAnswer
from tests.conftest import consent
from tests.nudge_helpers import SKILL, install_clock, nudge_worker, pushed, rows
from tests.replies import keys, labels, texts


@pytest.fixture
async def app(config: Config, any_db: Database) -> AsyncIterator[App]:
    """The bot wired on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set."""
    application = build_app(config, db=any_db)
    yield application
    await application.stop()


@pytest.fixture
def chat(app: App) -> MemoryChannel:
    channel = MemoryChannel(app.core, name="memory", capabilities=RICH)
    app.channels[channel.name] = channel
    return channel


def _skill(app: App, skill_id: str = SKILL) -> Skill:
    skill = app.store.current.lessons.get(skill_id)
    assert skill is not None
    return skill


async def _pass(chat: MemoryChannel, app: App, user: str, skill_id: str = SKILL) -> None:
    """Consent and pass a lesson through the chat, every answer right."""
    skill = _skill(app, skill_id)
    await consent(chat, user)
    await chat.say(user, "bài học")
    replies = await chat.press(user, skill.title)
    while "Tiếp" in labels(replies):
        replies = await chat.press(user, "Tiếp")
    for question in skill.quiz:
        replies = await chat.press(user, question.answer)
    assert "Bài học khác" in labels(replies)  # the result: passed


def _wrong(question: QuizQuestion) -> str:
    return next(c for i, c in enumerate(question.choices, 1) if i != question.correct)


async def test_questions_come_back_at_day_3_and_day_10(app: App, chat: MemoryChannel) -> None:
    clock = install_clock(app)
    start = clock.now
    await _pass(chat, app, "u1")
    reviews = [r for r in await rows(app, "u1") if r.kind == "review"]
    assert [(r.step, r.due_at - start) for r in reviews] == [
        (1, timedelta(days=3)),
        (2, timedelta(days=10)),
    ]
    worker = nudge_worker(app)
    clock.advance(days=2, hours=23)
    assert await worker.run_once() == 0
    clock.advance(hours=1)  # day 3
    assert await worker.run_once() == 1
    assert pushed(chat, "u1") == ["nudge.review_question"]
    skill = _skill(app)
    first = review_questions(skill, 1, 1)[0]
    message = chat.sent["u1"][0]
    assert skill.title in message.text and first.text in message.text
    assert [b.label for b in message.buttons] == list(first.choices)
    # A wrong answer: the right one and the explanation; stored.
    replies = await chat.press("u1", _wrong(first))
    assert keys(replies)[:1] == ["nudge.review_wrong"]
    assert first.answer in texts(replies)
    assert first.explain.strip() in texts(replies)
    assert "Ôn lại bài" in labels(replies)
    # Pressing again counts nothing twice.
    assert keys(await chat.press("u1", first.answer)) == ["nudge.review_answered"]
    progress = texts(await chat.say("u1", "tiến độ"))
    assert f"Nên ôn lại: {skill.title}" in progress
    # Nothing more until day 10, then a different question.
    clock.advance(days=6, hours=23)
    assert await worker.run_once() == 0
    clock.advance(hours=1)  # day 10
    assert await worker.run_once() == 1
    assert pushed(chat, "u1") == ["nudge.review_question"] * 2
    second = review_questions(skill, 2, 1)[0]
    assert second.id != first.id
    assert second.text in chat.sent["u1"][1].text
    replies = await chat.press("u1", second.answer)
    assert keys(replies) == ["nudge.review_right", "nudge.review_done"]
    progress = texts(await chat.say("u1", "tiến độ"))
    assert f"Nhớ chắc: {skill.title}" in progress
    assert "Nên ôn lại" not in progress
    async with app.db.transaction() as s:
        stored = (await s.execute(select(ReviewAnswer).order_by(ReviewAnswer.id))).scalars()
        answers = [(a.question_id, a.correct) for a in stored]
    assert answers == [(first.id, False), (second.id, True)]
    # No third review.
    clock.advance(days=30)
    assert await worker.run_once() == 0


async def test_two_questions_per_review(app: App, chat: MemoryChannel) -> None:
    clock = install_clock(app)
    await _pass(chat, app, "u1")
    clock.advance(days=3)
    config = app.services.config
    app.services.config = replace(config, nudges=replace(config.nudges, review_questions=2))
    assert await nudge_worker(app, review_questions=2).run_once() == 1
    first, second = review_questions(_skill(app), 1, 2)
    replies = await chat.press("u1", first.answer)
    assert keys(replies)[0] == "nudge.review_right"
    assert second.text in texts(replies)
    replies = await chat.press("u1", second.answer)
    assert keys(replies) == ["nudge.review_right", "nudge.review_done"]


async def test_only_safety_skills_are_reviewed_and_recent_passes_are_firm(
    app: App, chat: MemoryChannel
) -> None:
    clock = install_clock(app)
    basics = app.store.current.lessons.by_group("basics")[0]
    await _pass(chat, app, "u1", basics.id)
    assert [r.kind for r in await rows(app, "u1")] == ["reminder"]
    replies = await chat.say("u1", "bài học")
    skill = _skill(app)
    replies = await chat.press("u1", skill.title)
    while "Tiếp" in labels(replies):
        replies = await chat.press("u1", "Tiếp")
    for question in skill.quiz:
        replies = await chat.press("u1", question.answer)
    progress = await chat.say("u1", "tiến độ")
    assert f"Nhớ chắc: {skill.title}" in texts(progress)
    assert "Tắt nhắc" in labels(progress)
    # Long after, with no review answered (reviews turned off): worth reviewing.
    assert keys(await chat.press("u1", "Tắt nhắc")) == ["nudge.off"]
    clock.advance(days=11)
    assert await nudge_worker(app).run_once() == 0
    progress = await chat.say("u1", "tiến độ")
    assert f"Nên ôn lại: {skill.title}" in texts(progress)
    assert "Bật nhắc" in labels(progress)
    assert "Ôn lại bài" in labels(progress)
    replies = await chat.press("u1", "Ôn lại bài")
    assert "lesson.intro" in keys(replies)


async def test_an_old_or_foreign_review_button_counts_nothing(
    app: App, chat: MemoryChannel
) -> None:
    clock = install_clock(app)
    await _pass(chat, app, "u1")
    await consent(chat, "u2")
    clock.advance(days=3)
    assert await nudge_worker(app).run_once() == 1
    token = chat.sent["u1"][0].buttons[0].payload
    replies = await chat.press_token("u2", token)  # another citizen's token: not theirs
    assert "nudge.review_wrong" not in keys(replies)
    assert "nudge.review_right" not in keys(replies)
    async with app.db.transaction() as s:
        assert (await s.execute(select(ReviewAnswer))).first() is None


async def test_deleting_my_data_removes_reviews_and_answers(app: App, chat: MemoryChannel) -> None:
    clock = install_clock(app)
    await _pass(chat, app, "u1")
    clock.advance(days=3)
    await nudge_worker(app).run_once()
    first = review_questions(_skill(app), 1, 1)[0]
    await chat.press("u1", first.answer)
    uid = (await rows(app, "u1"))[0].user_id
    async with app.db.transaction() as s:
        assert (await s.execute(select(ReviewAnswer))).first() is not None
    await chat.say("u1", "Xóa dữ liệu của tôi")
    await chat.press("u1", "Xóa hết dữ liệu")
    async with app.db.transaction() as s:
        assert (await s.execute(select(ReviewAnswer))).first() is None
        assert (await s.execute(select(Nudge).where(Nudge.user_id == uid))).first() is None
