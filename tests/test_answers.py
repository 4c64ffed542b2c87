"""Answers in the chat: answer, related, feedback, asking back, falling back, the log, /reload."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.app import App, build_app
from bot.channels.memory import MemoryChannel
from bot.config import Config
from storage.db import Database
from storage.models import QuestionLog, User
from storage.repos.answers import AnswerRepo
from tests.conftest import CONTENT, consent, with_content
from tests.replies import labels, texts

HELPFUL = "Câu trả lời này có giúp được bạn không?"


async def log_rows(app: App) -> list[QuestionLog]:
    async with app.db.transaction() as session:
        return list((await session.execute(select(QuestionLog).order_by(QuestionLog.id))).scalars())


async def make_admin(app: App, external_id: str) -> None:
    async with app.db.transaction() as session:
        await session.execute(
            update(User).where(User.external_id == external_id).values(role="admin")
        )


async def test_answer_then_related_then_feedback(chat: MemoryChannel, app: App) -> None:
    await consent(chat, "u1")
    replies = await chat.say("u1", "Quên mật khẩu VNeID thì lấy lại thế nào?")
    entry = app.store.current.entry("vneid_reset_password")
    assert entry is not None
    assert entry.title in replies[0].text
    assert entry.answer.splitlines()[0] in replies[0].text
    related = [app.store.current.entry(r) for r in entry.related]
    skill = app.store.current.lessons.get(entry.skill or "")
    assert skill is not None
    assert len(replies) == 1, "the answer and the feedback question are one message"
    assert replies[0].text.endswith(HELPFUL)
    assert labels(replies) == ["👍 Có", "👎 Chưa", "📋 Xem từng bước"] + [
        r.title for r in related if r
    ] + [f"📘 Học bài: {skill.title}"]

    first_related = related[0]
    assert first_related is not None
    replies = await chat.press("u1", first_related.title)
    assert first_related.title in replies[0].text
    assert replies[-1].text.endswith(HELPFUL)

    replies = await chat.press("u1", "👍 Có")
    assert "Cảm ơn" in texts(replies)
    rows = await log_rows(app)
    assert len(rows) == 1
    row = rows[0]
    assert row.outcome == "answer"
    assert row.entry_id == "vneid_reset_password"
    assert row.text == "Quên mật khẩu VNeID thì lấy lại thế nào?"
    assert row.normalised.startswith("quen mat khau vneid")
    assert row.feedback == "up"
    assert row.feedback_at is not None
    assert row.channel == "memory"


async def test_thumbs_down_apologises_and_is_exported(chat: MemoryChannel, app: App) -> None:
    await consent(chat, "u1")
    await chat.say("u1", "tin nhắn ngân hàng báo khóa tài khoản kèm link có bấm được không")
    replies = await chat.press("u1", "👎 Chưa")
    assert "Xin lỗi" in texts(replies)
    assert "Liên hệ tổ công nghệ số" in labels(replies)
    async with app.db.transaction() as session:
        unanswered = await AnswerRepo(session).unanswered()
    assert [r.feedback for r in unanswered] == ["down"]


async def test_lesson_button_starts_the_lesson(chat: MemoryChannel, app: App) -> None:
    await consent(chat, "u1")
    replies = await chat.say("u1", "lam sao nhan biet tin nhan ngan hang gia mao")
    lesson = [label for label in labels(replies) if label.startswith("📘 Học bài: ")]
    assert lesson, labels(replies)
    replies = await chat.press("u1", lesson[0])
    assert "cũ" not in texts(replies)
    assert "Phần 1/" in texts(replies)


async def test_a_topic_name_alone_asks_back_and_the_choice_is_logged(
    chat: MemoryChannel, app: App
) -> None:
    await consent(chat, "u1")
    replies = await chat.say("u1", "vneid")
    assert "chọn giúp mình" in replies[-1].text
    choices = labels(replies)
    assert 3 <= len(choices) <= 4
    assert choices[-1] == "Không phải các ý trên"
    replies = await chat.press("u1", choices[0])
    assert choices[0] in replies[0].text
    assert replies[-1].text.endswith(HELPFUL)
    rows = await log_rows(app)
    assert rows[0].outcome == "ask"
    assert rows[0].entry_id is not None
    assert rows[0].entry_id in rows[0].choices


async def test_none_of_these_falls_back_and_counts_as_unanswered(
    chat: MemoryChannel, app: App
) -> None:
    await consent(chat, "u1")
    await chat.say("u1", "zalo")
    replies = await chat.press("u1", "Không phải các ý trên")
    assert "Liên hệ tổ công nghệ số" in labels(replies)
    rows = await log_rows(app)
    assert rows[0].outcome == "ask" and rows[0].feedback == "down"


async def test_out_of_scope_falls_back_kindly(chat: MemoryChannel, app: App) -> None:
    await consent(chat, "u1")
    for question in (
        "Tối nay đội tuyển Việt Nam đá bóng với ai?",
        "ngay mai troi co mua khong",
        "hàng xóm lấn đất nhà tôi thì kiện ở đâu",
    ):
        replies = await chat.say("u1", question)
        assert "chưa có câu trả lời" in texts(replies), question
        assert {"Hỏi đáp", "Bài học", "Liên hệ tổ công nghệ số"} <= set(labels(replies))
    rows = await log_rows(app)
    assert [r.outcome for r in rows] == ["fallback"] * 3
    assert all(r.entry_id is None for r in rows)


async def test_text_only_channel_numbers_and_typed_labels(
    text_chat: MemoryChannel, app: App
) -> None:
    await text_chat.say("z1", "xin chao", display_name="Cô Tư")
    await text_chat.say("z1", "1")
    replies = await text_chat.say("z1", "quen mk vneid phai lam sao")
    plain = "\n\n".join(text_chat.plain(replies))
    assert "Quên mật khẩu" in plain
    assert "**" not in plain
    assert "1️⃣ 👍 Có\n2️⃣ 👎 Chưa\n3️⃣ 📋 Xem từng bước" in plain
    replies = await text_chat.say("z1", "có")  # typing the label presses it
    assert "Cảm ơn" in texts(replies)
    rows = await log_rows(app)
    assert rows[-1].feedback == "up"


async def test_text_only_choices_never_look_like_the_answers_own_steps(
    text_chat: MemoryChannel, app: App
) -> None:
    await text_chat.say("z2", "xin chao")
    await text_chat.say("z2", "1")
    await text_chat.say("z2", "quen mat khau vneid")
    replies = await text_chat.say("z2", "3")  # "Xem từng bước"
    plain = "\n\n".join(text_chat.plain(replies))
    steps = [line for line in plain.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(steps) == 3  # the entry's own steps, "1. Mở ứng dụng..."
    assert "1️⃣ 👍 Có\n2️⃣ 👎 Chưa" in plain  # the choices, marked apart
    replies = await text_chat.say("z2", "2️⃣")  # a keycap typed (or pasted) is its number
    assert (await log_rows(app))[-1].feedback == "down"


async def test_free_question_in_a_lesson_is_answered_then_resume_offered(
    chat: MemoryChannel, app: App
) -> None:
    await consent(chat, "u1")
    skill = app.store.current.lessons.skills[0]
    await chat.say("u1", "bài học")
    await chat.press("u1", skill.title)
    replies = await chat.say("u1", "chuyển khoản nhầm số tài khoản thì làm sao lấy lại tiền")
    assert "Chuyển khoản nhầm" in texts(replies) or "nhầm" in replies[0].text
    assert "Học tiếp" in " ".join(labels(replies))
    rows = await log_rows(app)
    assert rows[-1].entry_id == "bank_wrong_transfer"


async def test_feedback_only_on_ones_own_question(chat: MemoryChannel, app: App) -> None:
    await consent(chat, "u1")
    await consent(chat, "u2")
    await chat.say("u1", "quên mật khẩu vneid")
    row = (await log_rows(app))[0]
    async with app.db.transaction() as session:
        users = {u.external_id: u.id for u in (await session.execute(select(User))).scalars()}
        repo = AnswerRepo(session)
        assert await repo.feedback(row.id, users["u2"], False) is None
        assert await repo.chose(row.id, users["u2"], "otp_what_is") is None
        assert await repo.count_for_user(users["u1"]) == 1
    assert (await log_rows(app))[0].feedback is None


async def test_numbers_and_emoji_alone_are_not_questions(chat: MemoryChannel, app: App) -> None:
    await consent(chat, "u1")
    await chat.say("u1", "12345")
    await chat.say("u1", "👍👍👍")
    assert await log_rows(app) == []


async def test_reload_command_for_admins(tmp_path: Path, config: Config, db: Database) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    app = build_app(with_content(config, content), db=db)
    chat = MemoryChannel(app.core, name="memory")
    app.channels[chat.name] = chat
    try:
        await consent(chat, "admin")
        await consent(chat, "citizen")
        replies = await chat.say("citizen", "/reload")
        assert "chưa biết lệnh" in texts(replies)  # invisible to citizens
        await make_admin(app, "admin")
        replies = await chat.say("admin", "/reload")
        assert "Đã nạp lại nội dung: 70 mục hỏi đáp" in texts(replies)

        basics = content / "knowledge" / "basics.yaml"
        text = basics.read_text(encoding="utf-8")
        basics.write_text(
            text.replace("- id: phone_connect_wifi_data", "- id: phone_basic_controls"), "utf-8"
        )
        before = app.store.current
        replies = await chat.say("admin", "/reload")
        assert "bot vẫn dùng bản cũ" in texts(replies)
        assert "content/knowledge/basics.yaml:" in texts(replies)
        assert "trùng mã" in texts(replies)
        assert chat.sent == {}  # told once, in the reply; no second copy pushed
        assert app.store.current is before
        replies = await chat.say("citizen", "làm sao kết nối wifi")
        assert replies[0].text.startswith("📌 **Kết nối Wi-Fi")
    finally:
        await app.stop()


async def test_question_log_repo_on_sqlite_and_postgres(any_db: Database) -> None:
    async with any_db.transaction() as session:
        user = User(channel="web", external_id="w1")
        other = User(channel="web", external_id="w2")
        session.add_all([user, other])
        await session.flush()
        repo = AnswerRepo(session)
        asked = await repo.log(
            user_id=user.id,
            channel="web",
            text="vneid",
            normalised="vneid",
            outcome="ask",
            entry_id=None,
            choices=["vneid_activate", "vneid_what_is"],
            score=0.4,
        )
        fell = await repo.log(
            user_id=user.id,
            channel="web",
            text="x" * 5000,
            normalised="x",
            outcome="fallback",
            entry_id=None,
        )
        await session.flush()  # the rows get their ids
        assert len(fell.text) == 2000
        assert (await repo.chose(asked.id, user.id, "vneid_activate")) == asked.id
        assert asked.entry_id == "vneid_activate"
        assert await repo.chose(fell.id, user.id, "vneid_activate") == fell.id
        assert fell.entry_id is None  # only an ask-back records a choice
        assert await repo.feedback(asked.id, other.id, True) is None
        await repo.feedback(asked.id, user.id, True)
        await repo.feedback(asked.id, user.id, False)  # a later press replaces the first
        assert await repo.count_for_user(user.id) == 2
        assert (await repo.last_of_user(user.id)) is fell
    async with any_db.transaction() as session:
        rows = await AnswerRepo(session).unanswered()
        assert [(r.outcome, r.feedback) for r in rows] == [("ask", "down"), ("fallback", None)]
        assert rows[0].choices == ["vneid_activate", "vneid_what_is"]
        await session.delete(await session.get(User, user.id))
    async with any_db.transaction() as session:
        assert await AnswerRepo(session).unanswered() == []  # deleted with the user


def test_run_refuses_invalid_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    basics = content / "knowledge" / "basics.yaml"
    text = basics.read_text(encoding="utf-8")
    basics.write_text(
        text.replace("- id: phone_connect_wifi_data", "- id: phone_basic_controls"), "utf-8"
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  url: sqlite+aiosqlite:///{tmp_path / 'run.db'}\n"
        f"content:\n  dir: {content}\n  watch: false\nweb:\n  enabled: false\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "run"]) == 1
    err = capsys.readouterr().err
    assert "chưa khởi động" in err
    assert "content/knowledge/basics.yaml:" in err and "trùng mã" in err


async def test_steps_button_shows_the_details(chat: MemoryChannel, app: App) -> None:
    await consent(chat, "u1")
    replies = await chat.say("u1", "Quên mật khẩu VNeID thì lấy lại thế nào?")
    entry = app.store.current.entry("vneid_reset_password")
    assert entry is not None and entry.details
    assert labels(replies)[2] == "📋 Xem từng bước"
    first_step = entry.details.splitlines()[1]
    assert first_step not in texts(replies)  # short first, steps on request
    replies = await chat.press("u1", "📋 Xem từng bước")
    assert first_step in texts(replies)
    assert entry.title in texts(replies)
    assert "Menu" in " ".join(labels(replies))
    replies = await chat.press("u1", "👍 Có")  # feedback right under the steps
    assert (await log_rows(app))[-1].feedback == "up"


async def test_steps_are_a_numbered_choice_on_text_only_channels(
    text_chat: MemoryChannel, app: App
) -> None:
    await text_chat.say("z1", "xin chao")
    await text_chat.say("z1", "1")
    replies = await text_chat.say("z1", "quen mk vneid phai lam sao")
    plain = "\n\n".join(text_chat.plain(replies))
    assert "3️⃣ 📋 Xem từng bước" in plain
    replies = await text_chat.say("z1", "3")
    entry = app.store.current.entry("vneid_reset_password")
    assert entry is not None and entry.details
    assert entry.details.splitlines()[-1].strip("* ") in "\n".join(text_chat.plain(replies))
