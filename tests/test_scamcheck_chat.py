""" "Kiểm tra tin lừa đảo" in the chat: the menu button, intent phrases, pasted messages checked
without being asked, questions left to the answers, and nothing pasted stored anywhere."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select, text

from bot.app import App
from bot.channels.memory import MemoryChannel
from storage.models import User
from tests.conftest import consent
from tests.replies import labels, texts

PHISHING = (
    "[Vietcombank] Tai khoan cua Quy khach dang bi tam khoa. Vui long xac thuc tai "
    "https://vietcombank-xacthuc.top/login trong 24h."
)
FOUND = "Tin này có dấu hiệu lừa đảo"


async def test_menu_button_prompt_then_check_then_lesson(chat: MemoryChannel, app: App) -> None:
    await consent(chat, "u1")
    replies = await chat.say("u1", "menu")
    assert "Kiểm tra tin lừa đảo" in labels(replies)
    replies = await chat.press("u1", "Kiểm tra tin lừa đảo")
    assert "dán" in texts(replies) and "Đừng gửi mã OTP" in texts(replies)

    replies = await chat.say("u1", PHISHING)
    body = texts(replies)
    assert FOUND in body
    assert "vietcombank-xacthuc.top" in body and "Vietcombank" in body
    assert "Làm ngay" in body and "156" in body and "Kiến nghị, phản ánh về ANTT" in body
    assert "TCTM vietcombank-xacthuc.top gửi 156" in body
    assert len(replies) == 1 and len(body) < 1500, "one message that fits a phone screen"
    skill = app.store.current.lessons.get("sk_spot_phishing")
    assert skill is not None
    assert labels(replies) == [f"📘 Học bài: {skill.title}", "Kiểm tra tin khác", "Menu"]

    replies = await chat.press("u1", f"📘 Học bài: {skill.title}")
    assert skill.title in texts(replies)


async def test_intent_phrase_and_nothing_found_is_never_safe(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    replies = await chat.say("u1", "kiem tra lua dao")
    assert "dán" in texts(replies)
    replies = await chat.say(
        "u1", "Ma OTP cua Quy khach la 483920. Tuyet doi KHONG cung cap OTP cho bat ky ai."
    )
    body = texts(replies)
    assert FOUND not in body
    assert "chưa chắc là an toàn" in body and "đừng bao giờ đưa mã OTP" in body
    assert "Kiểm tra tin khác" in labels(replies)
    # the flow is over: the next question goes to the answers
    replies = await chat.say("u1", "Quên mật khẩu VNeID thì lấy lại thế nào?")
    assert "Câu trả lời này có giúp được bạn không?" in texts(replies)


async def test_a_pasted_link_is_checked_without_asking(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    replies = await chat.say("u1", "vào msb.vn-ms.top nhận quà tri ân đây bác ơi")
    assert FOUND in texts(replies) and "MSB" in texts(replies)


async def test_a_forwarded_message_is_checked_without_asking(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    replies = await chat.say(
        "u1",
        "Chuc mung Quy khach da trung thuong chuong trinh tri an khach hang. "
        "Vui long chuyen khoan phi van chuyen 300.000d de nhan qua.",
    )
    assert FOUND in texts(replies)


async def test_trigger_phrase_around_a_message(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    replies = await chat.say(
        "u1", "tin này có phải lừa đảo không: Con anh dang cap cuu, chuyen gap 20 trieu cho co"
    )
    assert FOUND in texts(replies)


async def test_questions_still_go_to_the_answers(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    for question in [
        "vào dichvucong.gov.vn đăng nhập thế nào",  # an official address, no sign
        "tin nhắn ngân hàng báo khóa tài khoản có phải lừa đảo không",  # a question about scams
        "lo dua ma otp cho nguoi la roi, tai khoan bi tru tien, phai lam gi",  # told, not pasted
        "Nhân viên tổng đài bảo tôi đọc mã OTP để nâng hạn mức thẻ, có đúng không?",
        "co ai gui link tai ung dung bao hiem xa hoi qua tin nhan, bam vao cai thi co sao khong",
    ]:
        replies = await chat.say("u1", question)
        assert FOUND not in texts(replies), question
        assert "Mình chưa thấy dấu hiệu" not in texts(replies), question


async def test_a_phone_number(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    await chat.say("u1", "menu")
    await chat.press("u1", "Kiểm tra tin lừa đảo")
    replies = await chat.say("u1", "0912 345 678")
    assert "không tra được số điện thoại" in texts(replies)
    assert "LD <số gọi> <nội dung>" in texts(replies)


async def test_empty_paste_asks_again(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    await chat.say("u1", "kiểm tra link")
    replies = await chat.say("u1", "...")
    assert "chưa thấy nội dung" in texts(replies)
    replies = await chat.say("u1", "vao vcb-vn.top de mo khoa tai khoan")
    assert FOUND in texts(replies)


async def test_text_only_channel(text_chat: MemoryChannel) -> None:
    await consent(text_chat, "z1")
    replies = await text_chat.say("z1", PHISHING)
    assert FOUND in texts(replies)
    assert "Kiểm tra tin khác" in labels(replies)


async def _all_text(app: App) -> str:
    """Every value of every table, as one string."""
    dump: list[str] = []
    async with app.db.transaction() as session:
        tables = await session.run_sync(
            lambda sync: __import__("sqlalchemy").inspect(sync.connection()).get_table_names()
        )
        for table in tables:
            rows = (await session.execute(text(f'SELECT * FROM "{table}"'))).all()
            dump.extend(str(value) for row in rows for value in row)
    return "\n".join(dump)


async def test_nothing_pasted_is_stored_or_logged(
    chat: MemoryChannel, app: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "Nguyen Van Bé Tí 0987654321"
    await consent(chat, "u1")
    await chat.say("u1", f"{marker} oi, vao vcb-vn.top xac thuc ngay keo bi khoa tai khoan")
    await chat.say("u1", "kiểm tra lừa đảo")
    await chat.say("u1", f"Con cua {marker} dang cap cuu, chuyen gap 10 trieu vao stk nay")
    stored = await _all_text(app)
    assert "Bé Tí" not in stored and "0987654321" not in stored
    assert "Bé Tí" not in caplog.text and "0987654321" not in caplog.text
    assert "scam check: scam=True" in caplog.text

    # and "Xóa dữ liệu của tôi" removes the person with the rest
    await chat.say("u1", "xóa dữ liệu của tôi")
    await chat.press("u1", "Xóa hết dữ liệu")
    async with app.db.transaction() as session:
        assert (await session.execute(select(User))).scalars().all() == []
