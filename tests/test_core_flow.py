"""The router, consent, menu and fallbacks through the in-memory channels."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.app import App
from bot.channels.memory import MemoryChannel
from storage.models import ConversationState, User
from tests.conftest import consent
from tests.replies import labels, texts

MENU = [
    "Hỏi đáp",
    "Bài học",
    "Tiến độ của tôi",
    "Liên hệ tổ công nghệ số",
    "Kiểm tra tin lừa đảo",
]


async def test_greeting_shows_welcome_and_consent(chat: MemoryChannel) -> None:
    replies = await chat.say("u1", "xin chào", display_name="Bác Ba")
    assert "Trợ lý số" in texts(replies)
    assert "Bác Ba" in texts(replies)
    assert labels(replies) == ["Đồng ý", "Không đồng ý", "Xem chi tiết"]


async def test_consent_then_menu_and_button(chat: MemoryChannel, app: App) -> None:
    await chat.say("u1", "xin chào", display_name="Bác Ba")
    replies = await chat.press("u1", "Đồng ý")
    assert labels(replies) == MENU
    replies = await chat.press("u1", "Liên hệ tổ công nghệ số")
    assert "Tổ công nghệ số" in texts(replies)
    async with app.db.transaction() as session:
        user = (await session.execute(select(User))).scalar_one()
    assert user.consent_at is not None
    assert user.display_name == "Bác Ba"


async def test_nothing_personal_before_consent(chat: MemoryChannel, app: App) -> None:
    await chat.say("u1", "xin chào", display_name="Bác Ba")
    replies = await chat.say("u1", "quên mật khẩu")
    assert labels(replies)[0] == "Đồng ý"
    async with app.db.transaction() as session:
        user = (await session.execute(select(User))).scalar_one()
    assert user.display_name is None


async def test_declining_forgets_the_user(chat: MemoryChannel, app: App) -> None:
    await chat.say("u1", "xin chào", display_name="Bác Ba")
    replies = await chat.press("u1", "Không đồng ý")
    assert "không lưu" in texts(replies)
    assert labels(replies) == []
    async with app.db.transaction() as session:
        assert (await session.execute(select(func.count(User.id)))).scalar_one() == 0
        assert (
            await session.execute(select(func.count()).select_from(ConversationState))
        ).scalar_one() == 0


async def test_intent_phrases_without_diacritics(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    replies = await chat.say("u1", "MENU")
    assert labels(replies) == MENU
    replies = await chat.say("u1", "huong dan")
    assert "Cách dùng" in texts(replies)


async def test_unknown_command_and_text_fall_back_with_menu(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    replies = await chat.say("u1", "/xyz abc")
    assert "lệnh" in texts(replies)
    assert labels(replies) == MENU
    replies = await chat.say("u1", "    ")
    assert labels(replies) == MENU


async def test_forged_and_foreign_tokens_are_stale(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    await consent(chat, "u2")
    menu_u2 = chat.last["u2"]
    token_u2 = menu_u2[-1].buttons[0].payload
    replies = await chat.press_token("u1", token_u2)
    assert "cũ" in texts(replies)
    replies = await chat.press_token("u1", "menu:contact")
    assert "cũ" in texts(replies)
    replies = await chat.press_token("u1", "x" * 5000)
    assert "cũ" in texts(replies)


async def test_channels_never_see_payloads(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    for reply in chat.last["u1"]:
        for button in reply.buttons:
            assert ":" not in button.payload
            assert len(button.payload) <= 16


async def test_text_only_channel_numbers_and_labels(text_chat: MemoryChannel) -> None:
    replies = await text_chat.say("z1", "xin chao", display_name="Cô Tư")
    plain = text_chat.plain(replies)
    assert "1️⃣ Đồng ý" in plain[-1]
    assert "Trả lời số 1, 2 hoặc 3" in plain[-1]
    replies = await text_chat.say("z1", "1")
    assert labels(replies) == MENU
    replies = await text_chat.say("z1", "lien he to cong nghe so")
    assert "Tổ công nghệ số" in texts(replies)
    replies = await text_chat.say("z1", "0")
    assert labels(replies) == MENU


async def test_numbers_do_not_press_on_button_channels(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    replies = await chat.say("u1", "4")
    assert "chưa hiểu" in texts(replies)


async def test_unsupported_gets_a_kind_reply(chat: MemoryChannel) -> None:
    from bot.core.events import Unsupported

    await consent(chat, "u1")
    replies = await chat.event(Unsupported(sender=chat.sender("u1"), kind="sticker"))
    assert "chỉ đọc được chữ" in texts(replies)


async def test_oversized_text_is_handled(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    replies = await chat.say("u1", "a" * 100_000)
    assert labels(replies) == MENU


async def test_state_survives_a_new_process(chat: MemoryChannel, app: App, config) -> None:  # type: ignore[no-untyped-def]
    from bot.app import build_app

    await chat.say("z", "xin chao")
    second = build_app(config, db=app.db)
    other = MemoryChannel(second.core, name="memory")
    other.last = chat.last
    replies = await other.press("z", "Đồng ý")
    assert labels(replies) == MENU


async def test_cuu_gives_urgent_help_before_the_usage_guide(chat: MemoryChannel) -> None:
    await consent(chat, "u1")
    text = texts(await chat.say("u1", "cứu"))
    assert text.index("Cần giúp gấp") < text.index("Cách dùng")
    assert "113" in text and "tổng đài ngân hàng" in text
