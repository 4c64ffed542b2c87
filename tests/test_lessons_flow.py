"""The lesson flow on real phones: resume after a restart, double presses, old and forged buttons,
a free question in the middle, leaving with "dừng", and a lesson edited while someone is in it."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.channels.memory import MemoryChannel
from bot.config import Config
from bot.content.lessons import Skill
from bot.core.context import Context
from bot.core.replies import Button, Reply
from bot.core.router import Router, Routes
from handlers import all_routers
from storage.db import Database
from storage.models import (
    ConversationState,
    LessonAttempt,
    QuizAnswer,
    SkillCompletion,
    User,
)
from storage.repos.conversation import ConversationRepo
from tests.conftest import CONTENT, consent, with_content
from tests.replies import keys, labels, texts

PHISHING = "sk_spot_phishing"


def skill_of(app: App, skill_id: str = PHISHING) -> Skill:
    skill = app.store.current.lessons.get(skill_id)
    assert skill is not None
    return skill


def button(replies: list[Reply], label: str) -> Button:
    """The button labelled ``label`` (or containing it) in these replies; its payload is a token."""
    for reply in reversed(replies):
        for b in reply.buttons:
            if b.label == label or label in b.label:
                return b
    raise AssertionError(f"no {label!r} in {labels(replies)}")


def question_reply(replies: list[Reply]) -> Reply | None:
    return next((r for r in replies if r.choices), None)


async def open_lesson(chat: MemoryChannel, user: str, skill: Skill) -> list[Reply]:
    await chat.say(user, "bài học")
    return await chat.press(user, skill.title)


async def to_quiz(chat: MemoryChannel, user: str, skill: Skill) -> list[Reply]:
    replies = await open_lesson(chat, user, skill)
    for _ in skill.steps:
        replies = await chat.press(user, "Tiếp")
    assert question_reply(replies) is not None
    return replies


async def rows(app: App, model: type, **where: object) -> list:  # type: ignore[type-arg]
    async with app.db.transaction() as session:
        query: Any = select(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return list((await session.execute(query.order_by(model.id))).scalars())  # type: ignore[attr-defined]


async def state_of(app: App, external_id: str) -> ConversationState:
    async with app.db.transaction() as session:
        user = (
            await session.execute(select(User).where(User.external_id == external_id))
        ).scalar_one()
        state = await session.get(ConversationState, user.id)
        assert state is not None
        return state


# --- resume -------------------------------------------------------------------------------------


async def test_resume_after_restart_in_steps_and_in_quiz(
    app: App, chat: MemoryChannel, config: Config
) -> None:
    skill = skill_of(app)
    await consent(chat, "u1")
    await open_lesson(chat, "u1", skill)
    await chat.press("u1", "Tiếp")
    old_tiep = button(chat.last["u1"], "Tiếp")  # on step 2

    # A new process on the same database, hours later.
    second = build_app(config, db=app.db)
    second.services.clock = lambda: app.services.clock() + timedelta(hours=5)
    other = MemoryChannel(second.core, name="memory")
    replies = await other.say("u1", "học tiếp")
    assert "Phần 2/" in texts(replies) and skill.steps[1].text.splitlines()[-1] in texts(replies)
    replies = await other.press_token("u1", old_tiep.payload)  # the button shown before restart
    assert "Phần 3/" in texts(replies)
    for _ in skill.steps[2:]:
        replies = await other.press("u1", "Tiếp")
    first = skill.quiz[0]
    replies = await other.press("u1", first.answer)
    assert "Đúng rồi" in texts(replies)

    # Another restart in the middle of the quiz: the list shows ▶, the lesson goes on at Q2.
    third = build_app(config, db=app.db)
    third.services.clock = second.services.clock
    again = MemoryChannel(third.core, name="memory")
    replies = await again.say("u1", "bài học")
    assert f"▶ {skill.title}" in labels(replies)
    replies = await again.press("u1", skill.title)
    assert "học dở" in texts(replies)
    asked = question_reply(replies)
    assert asked is not None and skill.quiz[1].text in asked.text
    assert f"Câu 2/{len(skill.quiz)}" in asked.text
    for question in skill.quiz[1:]:
        replies = await again.press("u1", question.answer)
    assert "Chúc mừng" in texts(replies)
    answers = await rows(app, QuizAnswer)
    assert [a.question_id for a in answers] == [q.id for q in skill.quiz]
    attempts = await rows(app, LessonAttempt)
    assert len(attempts) == 1 and attempts[0].passed is True
    assert attempts[0].finished_at - attempts[0].started_at >= timedelta(hours=5)
    await second.stop()
    await third.stop()


# --- double presses, old and forged buttons --------------------------------------------------


async def test_tiep_pressed_twice_never_skips_a_step(app: App, chat: MemoryChannel) -> None:
    skill = skill_of(app)
    await consent(chat, "u1")
    replies = await open_lesson(chat, "u1", skill)
    tiep = button(replies, "Tiếp")
    replies = await chat.press_token("u1", tiep.payload)
    assert "Phần 2/" in texts(replies)
    replies = await chat.press_token("u1", tiep.payload)  # the same button again
    assert "Phần này đã qua rồi" in texts(replies)
    assert "Phần 2/" in texts(replies) and "Phần 3/" not in texts(replies)
    attempt = (await rows(app, LessonAttempt))[0]
    assert attempt.step_id == skill.steps[1].id


async def test_answer_pressed_twice_counts_once(app: App, chat: MemoryChannel) -> None:
    skill = skill_of(app)
    await consent(chat, "u1")
    replies = await to_quiz(chat, "u1", skill)
    first = skill.quiz[0]
    wrong = button(replies, first.choices[first.correct % len(first.choices)])
    right = button(replies, first.answer)
    replies = await chat.press_token("u1", wrong.payload)
    assert "Chưa đúng" in texts(replies)
    for token in (wrong.payload, right.payload, right.payload):
        replies = await chat.press_token("u1", token)
        assert "Câu này đã qua rồi" in texts(replies)
        asked = question_reply(replies)
        assert asked is not None and skill.quiz[1].text in asked.text
    answers = await rows(app, QuizAnswer)
    assert [(a.question_id, a.correct) for a in answers] == [(first.id, False)]


async def test_old_buttons_from_a_previous_attempt(app: App, chat: MemoryChannel) -> None:
    skill = skill_of(app)
    await consent(chat, "u1")
    replies = await to_quiz(chat, "u1", skill)
    old_right = button(replies, skill.quiz[0].answer)  # attempt 1, question 1
    for question in skill.quiz:  # all wrong
        replies = await chat.press("u1", question.choices[question.correct % len(question.choices)])
    assert "Chưa đạt" in texts(replies)
    retry = button(replies, "Làm lại bài kiểm tra")
    review = button(replies, "Xem lại bài học")
    replies = await chat.press_token("u1", retry.payload)
    assert skill.quiz[0].text in texts(replies)
    # Retry pressed again, review pressed, and the old answer: none starts or counts anything.
    for token in (retry.payload, review.payload, old_right.payload):
        replies = await chat.press_token("u1", token)
        assert "đã qua rồi" in texts(replies)
        asked = question_reply(replies)
        assert asked is not None and skill.quiz[0].text in asked.text
    attempts = await rows(app, LessonAttempt)
    assert [(a.number, a.status) for a in attempts] == [(1, "failed"), (2, "quiz")]
    answers = await rows(app, QuizAnswer)
    assert len(answers) == len(skill.quiz)
    assert all(a.attempt_id == attempts[0].id and not a.correct for a in answers)
    assert await rows(app, SkillCompletion) == []


async def test_buttons_of_a_finished_lesson_are_over(app: App, chat: MemoryChannel) -> None:
    skill = skill_of(app)
    await consent(chat, "u1")
    replies = await to_quiz(chat, "u1", skill)
    stale_answer = button(replies, skill.quiz[0].answer)
    for question in skill.quiz:
        replies = await chat.press("u1", question.answer)
    assert "Chúc mừng" in texts(replies)
    replies = await chat.press_token("u1", stale_answer.payload)
    assert "đã xong" in texts(replies) and "Bài học" in labels(replies)
    completions = await rows(app, SkillCompletion)
    assert len(completions) == 1 and completions[0].passes == 1


async def test_forged_and_foreign_tokens_never_count(app: App, chat: MemoryChannel) -> None:
    skill = skill_of(app)
    await consent(chat, "u1")
    await consent(chat, "u2")
    await open_lesson(chat, "u1", skill)
    replies_u2 = await to_quiz(chat, "u2", skill)
    foreign = button(replies_u2, skill.quiz[0].answer)
    attempt_u2 = (await rows(app, LessonAttempt))[-1]
    for token in (
        foreign.payload,  # another citizen's answer button
        f"lesson:ans:{attempt_u2.id}:{skill.quiz[0].id}:{skill.quiz[0].correct}",  # a payload
        "AAAAAAAA",
        "x" * 300,
    ):
        replies = await chat.press_token("u1", token)
        assert "đã qua rồi" in texts(replies)
        assert "Phần 1/" in texts(replies)  # u1 is still on their first step
    assert await rows(app, QuizAnswer) == []
    assert await rows(app, SkillCompletion) == []


async def test_forged_payloads_offered_as_tokens_are_checked(app: App, chat: MemoryChannel) -> None:
    """Even a payload the citizen really holds a token for is checked against their attempt."""
    skill = skill_of(app)
    await consent(chat, "u1")
    await consent(chat, "u2")
    await to_quiz(chat, "u2", skill)
    await to_quiz(chat, "u1", skill)
    attempts = await rows(app, LessonAttempt)
    mine, theirs = attempts[1].id, attempts[0].id
    q = skill.quiz[0]
    forged = [
        f"lesson:ans:{mine}:{q.id}:9",  # no such choice
        f"lesson:ans:{mine}:{q.id}:0",
        f"lesson:ans:{mine}:{skill.quiz[1].id}:1",  # not the current question
        f"lesson:ans:{mine}:nope:1",
        f"lesson:ans:{theirs}:{q.id}:{q.correct}",  # someone else's attempt
        f"lesson:ans:{mine}:{q.id}",
        f"lesson:ans:{mine}:{q.id}:{q.correct}:extra",
        f"lesson:ans:x{mine}:{q.id}:{q.correct}",
        f"lesson:next:{mine}:{skill.steps[-1].id}",  # a step while in the quiz
        f"lesson:retry:{mine}",  # retry of an unfinished attempt
        f"lesson:review:{theirs}",
        f"lesson:resume:{theirs}",
        f"lesson:stop:{theirs}",
        "lesson:start:sk_does_not_exist",
        "lesson:start:",
    ]
    async with app.db.transaction() as session:
        user = (await session.execute(select(User).where(User.external_id == "u1"))).scalar_one()
        tokens = await ConversationRepo(session).offer(user.id, forged)
    for payload, token in zip(forged, tokens, strict=True):
        replies = await chat.press_token("u1", token)
        if payload.startswith("lesson:start:"):
            assert "lesson.missing" in keys(replies), payload
            continue
        assert {"lesson.over_question", "lesson.over_step"} & set(keys(replies)), payload
        asked = question_reply(replies)
        assert asked is not None and q.text in asked.text, payload
    assert await rows(app, QuizAnswer) == []
    assert [a.status for a in await rows(app, LessonAttempt)] == ["quiz", "quiz"]
    state = await state_of(app, "u1")
    assert state.flow == "lesson"  # a missing skill shows the list; the lesson stays current
    replies = await chat.say("u1", "học tiếp")
    assert q.text in texts(replies)


# --- a free question, leaving, switching -----------------------------------------------------


def _has_catch_all(app: App) -> bool:
    names = {router.name for router in app.dispatcher.routes.routers}
    return bool(names & {"knowledge", "answers", "qa"})


async def test_resume_offer_after_any_text_answered_elsewhere(
    app: App, config: Config, db: Database
) -> None:
    """The resume mechanics alone, with a stand-in for the knowledge catch-all."""
    echo = Router("echo")

    @echo.text()
    async def answer(ctx: Context) -> None:
        """Answer any text."""
        ctx.send(Reply(text="Câu trả lời."))

    routers = [r for r in all_routers() if r.name != "answers"]  # one owner of free text
    bot = build_app(config, db=db)
    bot.dispatcher.routes = Routes([echo, *routers])
    chat = MemoryChannel(bot.core, name="memory")
    skill = skill_of(bot)
    await consent(chat, "u1")
    await open_lesson(chat, "u1", skill)
    replies = await chat.say("u1", "một câu hỏi bất kỳ")
    assert [r.text for r in replies[:1]] == ["Câu trả lời."]
    assert replies[-1].text == f"Bạn đang học dở bài “{skill.title}”. Học tiếp nhé?"
    replies = await chat.press("u1", "Học tiếp")
    assert "Phần 1/" in texts(replies)
    await chat.say("u1", "câu nữa")
    replies = await chat.press("u1", "Dừng bài học")
    assert "đã dừng" in texts(replies)
    replies = await chat.say("u1", "câu thứ ba")
    assert texts(replies) == "Câu trả lời."  # out of the lesson: no offer
    await bot.stop()


async def test_free_question_mid_lesson_is_answered_then_offers_to_continue(
    app: App, chat: MemoryChannel
) -> None:
    if not _has_catch_all(app):
        pytest.skip("the knowledge catch-all (issue 3) is not wired in yet")
    skill = skill_of(app)
    await consent(chat, "u1")
    await open_lesson(chat, "u1", skill)
    await chat.press("u1", "Tiếp")
    replies = await chat.say("u1", "quên mật khẩu VNeID thì làm sao")
    assert "VNeID" in texts(replies)
    assert texts(replies).count("Phần ") == 0  # the answer, not the lesson
    assert replies[-1].text.startswith("Bạn đang học dở bài")
    assert labels([replies[-1]]) == ["Học tiếp", "Dừng bài học"]
    replies = await chat.press("u1", "Học tiếp")
    assert "Phần 2/" in texts(replies)

    # The same in the quiz; the question comes back unanswered, then a letter answers it.
    for _ in skill.steps[1:]:
        await chat.press("u1", "Tiếp")
    replies = await chat.say("u1", "tin nhắn ngân hàng báo khóa tài khoản kèm link")
    assert replies[-1].text.startswith("Bạn đang học dở bài")
    replies = await chat.press("u1", "Học tiếp")
    asked = question_reply(replies)
    assert asked is not None and skill.quiz[0].text in asked.text
    letter = "ABCDEF"[skill.quiz[0].correct - 1]
    replies = await chat.say("u1", letter.lower() + ".")
    assert "Đúng rồi" in texts(replies)
    replies = await chat.say("u1", "H")
    assert "chữ cái A, B" in texts(replies)
    assert skill.quiz[1].text in texts(replies)
    assert len(await rows(app, QuizAnswer)) == 1


async def test_dung_and_thoat_leave_at_any_point(app: App, chat: MemoryChannel) -> None:
    skill = skill_of(app)
    await consent(chat, "u1")
    await open_lesson(chat, "u1", skill)
    await chat.press("u1", "Tiếp")
    replies = await chat.say("u1", "dừng")
    assert "đã dừng" in texts(replies)
    assert labels(replies)[:2] == ["Hỏi đáp", "Bài học"]
    assert (await state_of(app, "u1")).flow is None
    attempt = (await rows(app, LessonAttempt))[0]
    assert attempt.left_at is not None and attempt.status == "reading"
    replies = await chat.say("u1", "dung")
    assert "không học bài nào" in texts(replies)
    replies = await chat.say("u1", "bài học")
    assert f"▶ {skill.title}" in labels(replies)
    replies = await chat.say("u1", "học tiếp")
    assert "Phần 2/" in texts(replies)

    for _ in skill.steps[1:]:
        await chat.press("u1", "Tiếp")
    replies = await chat.say("u1", "THOÁT")
    assert "đã dừng" in texts(replies)
    replies = await chat.press("u1", "Bài học")
    replies = await chat.press("u1", skill.title)
    assert skill.quiz[0].text in texts(replies)
    replies = await chat.say("u1", "thoát bài học")
    assert "đã dừng" in texts(replies)
    assert await rows(app, SkillCompletion) == []


async def test_stop_button_and_switching_lessons(app: App, chat: MemoryChannel) -> None:
    phishing = skill_of(app)
    phone = skill_of(app, "sk_spot_phone_scam")
    await consent(chat, "u1")
    replies = await open_lesson(chat, "u1", phishing)
    old_stop = button(replies, "Dừng bài học")
    old_tiep = button(replies, "Tiếp")
    replies = await open_lesson(chat, "u1", phone)
    assert "Phần 1/" in texts(replies) and phone.steps[0].id
    # Buttons of the other lesson neither move nor stop this one.
    for token in (old_tiep.payload, old_stop.payload):
        replies = await chat.press_token("u1", token)
        assert "đã qua rồi" in texts(replies)
        assert phone.title in texts(replies) and "Phần 1/" in texts(replies)
    replies = await chat.press("u1", "Dừng bài học")
    assert "đã dừng" in texts(replies)
    replies = await chat.press("u1", "Bài học")
    assert f"▶ {phishing.title}" in labels(replies) and f"▶ {phone.title}" in labels(replies)
    # After "dừng", the current step's own button simply continues.
    replies = await chat.press_token("u1", old_tiep.payload)
    assert phishing.title in texts(replies) and "Phần 2/" in texts(replies)


async def test_text_only_channel_words_numbers_and_letters(
    app: App, text_chat: MemoryChannel
) -> None:
    skill = skill_of(app)
    await text_chat.say("z1", "xin chao")
    await text_chat.say("z1", "1")
    replies = await text_chat.say("z1", "bai hoc")
    plain = "\n".join(text_chat.plain(replies))
    number = next(
        line.split(".")[0] for line in plain.splitlines() if line.endswith(f"○ {skill.title}")
    )
    replies = await text_chat.say("z1", number)
    assert "1️⃣ Tiếp" in "\n".join(text_chat.plain(replies))
    replies = await text_chat.say("z1", "tiep")
    assert "Phần 2/" in texts(replies)
    replies = await text_chat.say("z1", "1")
    assert "Phần 3/" in texts(replies)
    replies = await text_chat.say("z1", "Tiếp")
    for _ in skill.steps[3:]:
        replies = await text_chat.say("z1", "1")
    plain = "\n".join(text_chat.plain(replies))
    assert "A. " + skill.quiz[0].choices[0] in plain and "Trả lời A" in plain
    for question in skill.quiz:
        replies = await text_chat.say("z1", "ABCDEF"[question.correct - 1].lower())
    assert "Chúc mừng" in texts(replies)
    replies = await text_chat.say("z1", "tien do")
    assert f"✅ {skill.title}" in texts(replies)


# --- a lesson edited while someone is in it ---------------------------------------------------


def _copy_content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    return root


async def _edited_app(tmp_path: Path, config: Config, app: App) -> tuple[App, MemoryChannel, Path]:
    root = _copy_content(tmp_path)
    edited = build_app(with_content(config, root), db=app.db)
    channel = MemoryChannel(edited.core, name="memory")
    edited.channels[channel.name] = channel
    return edited, channel, root / "lessons" / "safety.yaml"


def _drop_block(text: str, start: str, end: str) -> str:
    """Remove the YAML block starting at the line containing ``start`` up to ``end``."""
    begin = text.index(start)
    begin = text.rindex("\n", 0, begin) + 1
    stop = text.index(end, begin)
    stop = text.rindex("\n", 0, stop) + 1
    return text[:begin] + text[stop:]


async def test_step_removed_and_steps_reordered_mid_lesson(
    tmp_path: Path, config: Config, app: App
) -> None:
    edited, chat, path = await _edited_app(tmp_path, config, app)
    skill = skill_of(edited)
    ids = [s.id for s in skill.steps]
    assert ids[:3] == ["dau-hieu", "ten-mien", "khong-nhap"]
    await consent(chat, "u1")
    await open_lesson(chat, "u1", skill)
    replies = await chat.press("u1", "Tiếp")  # on step 2, "ten-mien"
    tiep_on_ten_mien = button(replies, "Tiếp")

    text = path.read_text("utf-8")
    # Remove "ten-mien" (the step being read) and move "hoi-truoc" before "khong-nhap".
    text = _drop_block(text, "- id: ten-mien", "- id: khong-nhap")
    hoi_truoc = text[text.rindex("\n", 0, text.index("- id: hoi-truoc")) + 1 :]
    hoi_truoc = hoi_truoc[: hoi_truoc.index("    quiz:")]
    text = text.replace(hoi_truoc, "", 1)
    marker = text.rindex("\n", 0, text.index("- id: khong-nhap")) + 1
    text = text[:marker] + hoi_truoc + text[marker:]
    path.write_text(text, "utf-8")
    assert await edited.store.reload() == []
    new_ids = [s.id for s in skill_of(edited).steps]
    assert new_ids == ["dau-hieu", "hoi-truoc", "khong-nhap", "mo-app"]

    replies = await chat.press_token("u1", tiep_on_ten_mien.payload)
    assert "vừa được cập nhật" in texts(replies)
    assert "Phần 2/4" in texts(replies)  # the step now in its place
    assert "Hỏi trước khi bấm" in texts(replies)
    replies = await chat.press("u1", "Tiếp")
    assert "Phần 3/4" in texts(replies) and "Không nhập mật khẩu" in texts(replies)
    replies = await chat.press("u1", "Tiếp")
    replies = await chat.press("u1", "Tiếp")
    assert question_reply(replies) is not None
    await edited.stop()


async def test_questions_changed_mid_quiz_and_lesson_removed(
    tmp_path: Path, config: Config, app: App
) -> None:
    edited, chat, path = await _edited_app(tmp_path, config, app)
    skill = skill_of(edited)
    await consent(chat, "u1")
    await to_quiz(chat, "u1", skill)
    replies = await chat.press("u1", skill.quiz[0].answer)
    on_second = question_reply(replies)
    assert on_second is not None and skill.quiz[1].text in on_second.text
    old_choice = on_second.buttons[skill.quiz[1].correct - 1]

    # Remove the question being asked, add a new one at the end.
    text = path.read_text("utf-8")
    text = _drop_block(text, "- id: ten-ngan-hang", "- id: lo-nhap-otp")
    new_question = (
        "      - id: cau-moi\n"
        "        text: Câu hỏi mới?\n"
        "        choices: [Sai, Đúng]\n"
        "        correct: 2\n"
        "        explain: Vì đây là câu mới.\n"
    )
    block = text.index("    pass:", text.index("- id: lo-nhap-otp"))
    text = text[:block] + new_question + text[block:]
    path.write_text(text, "utf-8")
    assert await edited.store.reload() == []
    current = skill_of(edited)
    assert [q.id for q in current.quiz] == ["link-gia", "lo-nhap-otp", "cau-moi"]

    replies = await chat.press_token("u1", old_choice.payload)
    assert "vừa được cập nhật" in texts(replies)
    asked = question_reply(replies)
    assert asked is not None and "Câu 2/3" in asked.text and current.quiz[1].text in asked.text
    replies = await chat.press("u1", current.quiz[1].answer)
    replies = await chat.press("u1", "Đúng")
    assert "Chúc mừng" in texts(replies) and "3/3" in texts(replies)
    answers = await rows(edited, QuizAnswer)
    assert [a.question_id for a in answers] == ["link-gia", "lo-nhap-otp", "cau-moi"]

    # A lesson removed while someone is in it: a clear message, no crash.
    replies = await chat.press("u1", "Bài học khác")
    replies = await chat.press("u1", "Nhận diện cuộc gọi giả danh")
    tiep = button(replies, "Tiếp")
    text = path.read_text("utf-8")
    path.write_text(
        _drop_block(text, "- id: sk_spot_phone_scam", "- id: sk_spot_phishing"), "utf-8"
    )
    knowledge = path.parent.parent / "knowledge" / "safety.yaml"
    ktext = knowledge.read_text("utf-8")
    # scam_fake_app_link is also a topic of sk_install_official_app: it now points there.
    start = ktext.index("- id: scam_fake_app_link")
    end = ktext.index("- id:", start + 5)
    ktext = (
        ktext[:start]
        + ktext[start:end].replace("skill: sk_spot_phone_scam", "skill: sk_install_official_app")
        + ktext[end:]
    )
    knowledge.write_text(ktext.replace("    skill: sk_spot_phone_scam\n", ""), "utf-8")
    signs = path.parent.parent / "scam" / "signs.yaml"  # the scam check's signs name lessons too
    signs.write_text(signs.read_text("utf-8").replace("sk_spot_phone_scam", "sk_spot_phishing"))
    assert await edited.store.reload() == [], "content with the lesson removed must load"
    assert edited.store.current.lessons.get("sk_spot_phone_scam") is None
    replies = await chat.press_token("u1", tiep.payload)
    assert "đã xong hoặc đã đổi" in texts(replies)
    replies = await chat.say("u1", "học tiếp")
    assert "Bài học" in texts(replies)
    await edited.stop()


async def test_step_text_edited_keeps_the_place(tmp_path: Path, config: Config, app: App) -> None:
    edited, chat, path = await _edited_app(tmp_path, config, app)
    skill = skill_of(edited)
    await consent(chat, "u1")
    await open_lesson(chat, "u1", skill)
    await chat.press("u1", "Tiếp")
    text = path.read_text("utf-8")
    path.write_text(text.replace("**Không nhập mật khẩu, OTP từ link**", "**Đã sửa**"), "utf-8")
    assert await edited.store.reload() == []
    replies = await chat.press("u1", "Tiếp")
    assert "Phần 3/" in texts(replies) and "Đã sửa" in texts(replies)
    assert "vừa được cập nhật" not in texts(replies)
    await edited.stop()


# --- records --------------------------------------------------------------------------------


async def test_one_completion_with_the_best_score(app: App, chat: MemoryChannel) -> None:
    skill = skill_of(app, "sk_online_shopping_safe")
    optional = [q for q in skill.quiz if not q.critical]
    assert len(skill.quiz) == 5 and optional
    await consent(chat, "u1")
    await to_quiz(chat, "u1", skill)
    for question in skill.quiz:  # one non-critical question wrong: 4/5 = 80%, a pass
        wrong = question.choices[question.correct % len(question.choices)]
        replies = await chat.press("u1", wrong if question is optional[0] else question.answer)
    assert "Chúc mừng" in texts(replies) and "4/5" in texts(replies)
    completion = (await rows(app, SkillCompletion))[0]
    assert completion.best_score == 0.8 and completion.passes == 1

    replies = await chat.press("u1", "Bài học khác")
    replies = await chat.press("u1", skill.title)  # passed before: a fresh attempt from step 1
    assert "Phần 1/" in texts(replies)
    for _ in skill.steps:
        replies = await chat.press("u1", "Tiếp")
    for question in skill.quiz:
        replies = await chat.press("u1", question.answer)
    assert "5/5" in texts(replies)
    completions = await rows(app, SkillCompletion)
    assert len(completions) == 1
    assert completions[0].best_score == 1.0 and completions[0].passes == 2
    attempts = await rows(app, LessonAttempt)
    assert completions[0].best_attempt_id == attempts[-1].id
    assert completions[0].first_passed_at < completions[0].last_passed_at

    # A later, worse pass keeps the best score.
    replies = await chat.press("u1", "Bài học khác")
    replies = await chat.press("u1", skill.title)
    for _ in skill.steps:
        replies = await chat.press("u1", "Tiếp")
    for question in skill.quiz:
        wrong = question.choices[question.correct % len(question.choices)]
        replies = await chat.press("u1", wrong if question is optional[0] else question.answer)
    completions = await rows(app, SkillCompletion)
    assert len(completions) == 1 and completions[0].best_score == 1.0
    assert completions[0].passes == 3
    async with app.db.transaction() as session:
        count = await session.scalar(select(func.count(QuizAnswer.id)))
    assert count == 15


async def test_deleting_a_citizen_removes_their_lesson_records(
    app: App, chat: MemoryChannel
) -> None:
    """A citizen deleted mid-lesson leaves nothing behind (cascade)."""
    skill = skill_of(app)
    await consent(chat, "u1")
    await to_quiz(chat, "u1", skill)
    await chat.press("u1", skill.quiz[0].answer)
    async with app.db.transaction() as session:
        user = (await session.execute(select(User))).scalar_one()
        await session.delete(user)
    assert await rows(app, LessonAttempt) == []
    assert await rows(app, QuizAnswer) == []
