"""Admins see the unanswered questions in the chat, counted (issue 17 item 15); nobody else."""

from __future__ import annotations

from sqlalchemy import update

from bot.app import App
from bot.channels.memory import MemoryChannel
from storage.models import User
from tests.conftest import consent
from tests.replies import labels, texts


async def _admin(app: App, external_id: str) -> None:
    async with app.db.transaction() as session:
        await session.execute(
            update(User).where(User.external_id == external_id).values(role="admin")
        )


async def test_admins_see_unanswered_questions_with_counts(chat: MemoryChannel, app: App) -> None:
    await consent(chat, "c1")
    await consent(chat, "c2")
    for who in ("c1", "c2", "c1"):
        await chat.say(who, "Tối nay đội tuyển Việt Nam đá bóng với ai?")
    await chat.say("c2", "hàng xóm lấn đất nhà tôi thì kiện ở đâu")
    replies = await chat.say("c1", "Quên mật khẩu VNeID thì lấy lại thế nào?")
    entry = app.store.current.entry("vneid_reset_password")
    assert entry is not None and entry.title in texts(replies)
    await chat.press("c1", "👎 Chưa")

    replies = await chat.say("c1", "/unanswered")  # a citizen cannot see it
    assert "chưa trả lời được" not in texts(replies)

    await consent(chat, "boss")
    await _admin(app, "boss")
    replies = await chat.say("boss", "/team")
    assert "Câu bot chưa trả lời" in labels(replies)
    replies = await chat.press("boss", "Câu bot chưa trả lời")
    lines = texts(replies).splitlines()
    assert "Câu hỏi bot chưa trả lời được" in lines[0]
    assert lines[1] == "• “Tối nay đội tuyển Việt Nam đá bóng với ai?”: 3 lần"  # most first
    assert lines[2] == "• “hàng xóm lấn đất nhà tôi thì kiện ở đâu”: 1 lần"
    assert f"• {entry.title} (vneid_reset_password): 1 lần" in lines
