"""The Telegram channel end to end: PTB talks HTTP to a fake Bot API server on 127.0.0.1.

Nothing is mocked: the real dispatcher, handlers, content and SQLite database answer; PTB sends
real requests through ``base_url``; the fake records them and can answer 429, 403 or 5xx.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import App, build_app
from bot.channels.base import Backoff
from bot.channels.telegram import (
    ALLOWED_UPDATES,
    SECRET_HEADER,
    TelegramChannel,
    html_chunks,
    render,
    utf16_len,
)
from bot.cli import SECRET_LOGGERS
from bot.config import Config, ConfigError, Secrets, TelegramConfig
from bot.core.ports import RetryAfter, Unreachable
from bot.core.replies import Button, Reply
from bot.redaction import RedactSecrets, protect_secret, redact
from storage.db import Database
from storage.models import User
from tests.conftest import CONTENT, with_content
from tests.fake_telegram import FakeTelegram
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "quen mat khau vneid thi lam sao"
Send = Callable[[dict[str, Any]], Awaitable[None]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """The fake Bot API server."""
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


def make_channel(app: App, fake: FakeTelegram, **options: Any) -> TelegramChannel:
    """A Telegram channel pointed at the fake, with short pauses for tests."""
    settings: dict[str, Any] = {"backoff": (0.01, 0.02, 0.05), "poll_timeout": 1.0}
    settings.update(options)
    channel = TelegramChannel(app.core, fake.token, base_url=fake.base_url, **settings)
    app.channels[channel.name] = channel
    return channel


async def started(channel: TelegramChannel) -> TelegramChannel:
    await channel.start()
    await asyncio.wait_for(channel.ready.wait(), 10)
    return channel


@pytest.fixture
async def polling(app: App, fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    """The channel in long-polling mode, started."""
    channel = await started(make_channel(app, fake))
    yield channel
    await channel.stop()


async def user_row(db: Database, external_id: int) -> User | None:
    async with db.transaction() as session:
        result = await session.execute(
            select(User).where(User.channel == "telegram", User.external_id == str(external_id))
        )
        return result.scalar_one_or_none()


def new_messages(fake: FakeTelegram, chat: int, before: int) -> list[Any]:
    return fake.sent_to(chat)[before:]


async def exchange(fake: FakeTelegram, send: Send, update: dict[str, Any]) -> list[Any]:
    """Deliver one update and wait until the bot's replies to that chat have settled."""
    chat = (update.get("message") or update["callback_query"]["message"])["chat"]["id"]
    before = len(fake.sent_to(chat))
    await send(update)
    await fake.wait_for(lambda: len(fake.sent_to(chat)) > before)
    await fake.quiet(0.15)
    return new_messages(fake, chat, before)


async def conversation(fake: FakeTelegram, send: Send, app: App, chat: int = 501) -> None:
    """start -> consent -> question -> answer with buttons -> press a button -> lesson step."""
    # /start with a deep-link code: the welcome, with the user's name, and the consent buttons.
    sent = await exchange(fake, send, fake.text_update(chat, "/start thon-3"))
    assert "Ba Nguyễn" in fake.texts_to(chat)
    assert "<b>Trợ lý số</b>" in fake.texts_to(chat)
    assert all(call.params.get("parse_mode") == "HTML" for call in sent)
    assert [label for label, _ in sent[-1].keyboard] == ["Đồng ý", "Không đồng ý", "Xem chi tiết"]
    assert all(len(data.encode()) <= 64 and ":" not in data for _, data in sent[-1].keyboard)

    # Consent by pressing the button: the callback query is answered, the menu follows.
    answered = len(fake.of("answerCallbackQuery"))
    sent = await exchange(fake, send, fake.callback_update(chat, fake.button(chat, "Đồng ý")))
    await fake.wait_for(lambda: len(fake.of("answerCallbackQuery")) > answered)
    assert "Bài học" in [label for call in sent for label, _ in call.keyboard]
    row = await user_row(app.db, chat)
    assert row is not None and row.consent_at is not None and row.display_name == "Ba Nguyễn"

    # A real question, typed without diacritics: the answer comes with buttons.
    sent = await exchange(fake, send, fake.text_update(chat, QUESTION))
    assert sent[-1].keyboard, "the answer to a question offers buttons"

    # Press a button of that answer (the last one: at least the way back to the menu).
    label, token = sent[-1].keyboard[-1]
    sent = await exchange(fake, send, fake.callback_update(chat, token))
    assert "cũ rồi" not in "\n".join(c.text for c in sent), f"{label} was a live button"

    # Open the lessons and take the first step of the first lesson, when lessons exist.
    sent = await exchange(fake, send, fake.callback_update(chat, fake.button(chat, "Bài học")))
    lesson_buttons = [b for b in sent[-1].keyboard if b[0] != "Menu"]
    if any(r.key and r.key.startswith("lesson:") for r in app.dispatcher.routes.all):
        assert lesson_buttons, "the lesson list offers lessons"
        sent = await exchange(fake, send, fake.callback_update(chat, lesson_buttons[0][1]))
        step = "\n".join(c.text for c in sent)
        assert step.strip() and "cũ rồi" not in step
        assert sent[-1].keyboard, "a lesson step offers a way on"
    assert len(fake.of("answerCallbackQuery")) >= 3


async def test_full_conversation_polling(
    polling: TelegramChannel, fake: FakeTelegram, app: App
) -> None:
    async def send(update: dict[str, Any]) -> None:
        fake.push(update)

    await conversation(fake, send, app)
    get_updates = fake.of("getUpdates")[-1].params
    assert set(get_updates["allowed_updates"]) == set(ALLOWED_UPDATES)
    assert fake.of("deleteWebhook"), "polling makes sure no webhook is set"


async def test_commands_registered_in_vietnamese(
    polling: TelegramChannel, fake: FakeTelegram, app: App
) -> None:
    commands = {
        c["command"]: c["description"] for c in fake.of("setMyCommands")[-1].params["commands"]
    }
    assert commands["start"] == "Bắt đầu trò chuyện với Trợ lý số"
    assert {"start", "menu", "help", "contact", "privacy"} <= set(commands)
    known = {r.key for r in app.dispatcher.routes.all if r.kind == "command"}
    assert set(commands) <= known, "only commands the bot really has are listed"


@pytest.fixture
async def webhook_app(config: Config, db: Database, fake: FakeTelegram) -> AsyncIterator[App]:
    """The app configured for webhook mode against the fake, channel started."""
    cfg = replace(
        config,
        telegram=TelegramConfig(base_url=fake.base_url, webhook_url="https://bot.example.org"),
        secrets=Secrets(telegram_token=fake.token, telegram_webhook_secret="s3cret_Hook-1"),
    )
    application = build_app(cfg, db=db)
    channel = application.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    channel.retry = Backoff((0.01,))
    await started(channel)
    yield application
    await application.stop()


async def test_full_conversation_webhook(webhook_app: App, fake: FakeTelegram) -> None:
    channel = webhook_app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    hook = fake.of("setWebhook")[-1].params
    assert hook["url"] == f"https://bot.example.org{channel.webhook_path}"
    assert hook["secret_token"] == "s3cret_Hook-1"
    assert set(hook["allowed_updates"]) == set(ALLOWED_UPDATES)
    assert fake.token not in channel.webhook_path and "s3cret" not in channel.webhook_path

    async with TestClient(TestServer(webhook_app.web_app())) as client:

        async def post(update: dict[str, Any], secret: str | None) -> int:
            headers = {SECRET_HEADER: secret} if secret is not None else {}
            response = await client.post(channel.webhook_path, json=update, headers=headers)
            return response.status

        async def send(update: dict[str, Any]) -> None:
            assert await post(fake.stamp(update), "s3cret_Hook-1") == 200

        # Without the right secret: 403, and nothing reaches the bot.
        assert await post(fake.stamp(fake.text_update(777, "/start")), None) == 403
        assert await post(fake.stamp(fake.text_update(777, "/start")), "wrong") == 403
        assert await post(fake.stamp(fake.text_update(777, "/start")), "s3cret_Hook-") == 403
        await fake.quiet(0.2)
        assert fake.sent_to(777) == []
        assert await user_row(webhook_app.db, 777) is None
        # With it: the whole conversation.
        await conversation(fake, send, webhook_app, chat=601)
        # Telegram redelivering the same update (a timeout on its side) is handled once.
        update = fake.stamp(fake.text_update(601, "/help"))
        before = len(fake.sent_to(601))
        assert await post(update, "s3cret_Hook-1") == 200
        assert await post(update, "s3cret_Hook-1") == 200
        await fake.wait_for(lambda: len(fake.sent_to(601)) > before)
        await fake.quiet(0.2)
        assert len(fake.sent_to(601)) == before + 1
        # Not JSON, or not an update: refused without harm.
        response = await client.post(
            channel.webhook_path, data=b"{oops", headers={SECRET_HEADER: "s3cret_Hook-1"}
        )
        assert response.status == 400
    assert fake.of("getUpdates") == []


def test_webhook_needs_a_secret(config: Config, fake: FakeTelegram) -> None:
    cfg = replace(
        config,
        telegram=TelegramConfig(base_url=fake.base_url, webhook_url="https://bot.example.org"),
        secrets=Secrets(telegram_token=fake.token),
    )
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        build_app(cfg)
    bad = replace(cfg, secrets=Secrets(telegram_token=fake.token, telegram_webhook_secret="a b"))
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        build_app(bad)


def test_polling_when_token_set_and_no_webhook(config: Config) -> None:
    assert "telegram" not in build_app(config).channels
    cfg = replace(config, secrets=Secrets(telegram_token="42:abc"))
    channel = build_app(cfg).channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    assert channel.mode == "polling" and channel.routes() == []
    assert channel.application.bot.base_url == "https://api.telegram.org/bot42:abc"


async def test_stickers_photos_voice_are_unsupported(
    polling: TelegramChannel, fake: FakeTelegram
) -> None:
    async def send(update: dict[str, Any]) -> None:
        fake.push(update)

    await exchange(fake, send, fake.text_update(11, "/start"))
    await exchange(fake, send, fake.callback_update(11, fake.button(11, "Đồng ý")))
    for update in (fake.sticker_update(11), fake.photo_update(11, "ảnh"), fake.voice_update(11)):
        sent = await exchange(fake, send, update)
        assert "chỉ đọc được chữ" in sent[0].text


async def test_forged_button_is_stale_and_still_answered(
    polling: TelegramChannel, fake: FakeTelegram
) -> None:
    async def send(update: dict[str, Any]) -> None:
        fake.push(update)

    await exchange(fake, send, fake.text_update(12, "/start"))
    await exchange(fake, send, fake.callback_update(12, fake.button(12, "Đồng ý")))
    sent = await exchange(fake, send, fake.callback_update(12, "menu:contact"))
    assert "cũ rồi" in sent[0].text
    answers = fake.of("answerCallbackQuery")
    assert len(answers) == 2


async def test_group_chats_and_odd_updates_do_not_break_the_bot(
    polling: TelegramChannel, fake: FakeTelegram
) -> None:
    group = fake.text_update(13, "/start")
    group["message"]["chat"] = {"id": -100, "type": "group", "title": "Thôn 3"}
    fake.push(group, {"edited_message": fake.text_update(13, "x")["message"]})
    fake.push({"message": {"message_id": 1, "date": 0, "chat": {"id": 13, "type": "private"}}})
    sent = await exchange(fake, fake_push(fake), fake.text_update(13, "/start"))
    assert sent and fake.sent_to(-100) == []


def fake_push(fake: FakeTelegram) -> Send:
    async def send(update: dict[str, Any]) -> None:
        fake.push(update)

    return send


async def test_flood_control_is_retried(polling: TelegramChannel, fake: FakeTelegram) -> None:
    fake.fail("sendMessage", 429, retry_after=1, chat_id=21)
    sent = await exchange(fake, fake_push(fake), fake.text_update(21, "/start"))
    assert sent, "delivered after the pause Telegram asked for"
    attempts = [c for c in fake.of("sendMessage") if c.chat_id == 21]
    assert not attempts[0].ok and attempts[1].ok
    assert attempts[1].at - attempts[0].at >= 1.0


async def test_push_raises_retry_after_when_flood_control_persists(
    app: App, fake: FakeTelegram
) -> None:
    channel = await started(make_channel(app, fake, rate_retries=0))
    try:
        fake.fail("sendMessage", 429, retry_after=7, chat_id=22)
        with pytest.raises(RetryAfter) as caught:
            await channel.send("22", [Reply(text="Tin từ tổ công nghệ số")])
        assert caught.value.seconds == 7
    finally:
        await channel.stop()


async def test_network_errors_are_retried_with_backoff(
    polling: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.fail("sendMessage", 502, chat_id=23, times=2)
    sent = await exchange(fake, fake_push(fake), fake.text_update(23, "/start"))
    assert sent
    assert [c.ok for c in fake.of("sendMessage") if c.chat_id == 23][:3] == [False, False, True]


async def test_blocked_user_is_marked_unreachable_and_skipped(
    polling: TelegramChannel, fake: FakeTelegram, app: App
) -> None:
    await exchange(fake, fake_push(fake), fake.text_update(31, "/start"))
    await exchange(fake, fake_push(fake), fake.callback_update(31, fake.button(31, "Đồng ý")))
    fake.block(31)
    fake.push(fake.text_update(31, "/help"))
    await fake.wait_for(lambda: any(c.chat_id == 31 and not c.ok for c in fake.of("sendMessage")))
    await fake.quiet(0.2)
    row = await user_row(app.db, 31)
    assert row is not None and row.unreachable_at is not None
    # A later push is skipped without calling Telegram.
    calls = len(fake.calls)
    with pytest.raises(Unreachable):
        await app.services.deliver(row.id, [Reply(text="Thông báo của tổ")])
    assert len(fake.calls) == calls
    # Writing again makes them reachable again.
    fake.blocked.clear()
    await exchange(fake, fake_push(fake), fake.text_update(31, "/help"))
    row = await user_row(app.db, 31)
    assert row is not None and row.unreachable_at is None


async def test_push_to_a_user_who_blocked_the_bot(
    polling: TelegramChannel, fake: FakeTelegram, app: App
) -> None:
    await exchange(fake, fake_push(fake), fake.text_update(32, "/start"))
    await exchange(fake, fake_push(fake), fake.callback_update(32, fake.button(32, "Đồng ý")))
    row = await user_row(app.db, 32)
    assert row is not None
    fake.block(32)
    with pytest.raises(Unreachable):
        await app.services.deliver(row.id, [Reply(text="Thông báo của tổ")])
    row = await user_row(app.db, 32)
    assert row is not None and row.unreachable_at is not None


async def test_blocking_the_bot_is_noticed_from_my_chat_member(
    polling: TelegramChannel, fake: FakeTelegram, app: App
) -> None:
    await exchange(fake, fake_push(fake), fake.text_update(33, "/start"))
    fake.push(fake.blocked_update(33))

    async def marked() -> bool:
        row = await user_row(app.db, 33)
        return row is not None and row.unreachable_at is not None

    await eventually(marked, within=2)


async def test_one_user_in_order_users_concurrently(
    polling: TelegramChannel, fake: FakeTelegram
) -> None:
    for chat in (41, 42):
        await exchange(fake, fake_push(fake), fake.text_update(chat, "/start"))
        await exchange(
            fake, fake_push(fake), fake.callback_update(chat, fake.button(chat, "Đồng ý"))
        )
    # Ten quick messages from one user: the replies come back in the same order.
    before = len(fake.sent_to(41))
    commands = ["/help", "/contact"] * 5
    fake.push(*(fake.text_update(41, c) for c in commands))
    await fake.wait_for(lambda: len(fake.sent_to(41)) >= before + len(commands))
    replies = [c.text for c in fake.sent_to(41)[before:]]
    assert ["Cách dùng" in r for r in replies] == [c == "/help" for c in commands]
    # A slow delivery to one user does not hold up another.
    fake.delays[41] = 1.0
    fake.push(fake.text_update(41, "/help"), fake.text_update(42, "/help"))
    before_41 = len(fake.sent_to(41))
    await fake.wait_for(lambda: len(fake.sent_to(42)) > 2)
    assert len(fake.sent_to(41)) == before_41, "user 42 was answered while 41 waited"
    await fake.wait_for(lambda: len(fake.sent_to(41)) > before_41)


async def test_long_replies_are_split_and_images_sent(
    polling: TelegramChannel, fake: FakeTelegram
) -> None:
    paragraph = "Bạn nhớ: **không** đưa mã OTP cho ai <kể cả> người xưng là công an & ngân hàng. "
    text = "\n\n".join(paragraph * 3 for _ in range(40))
    await polling.send("51", [Reply(text=text, buttons=(Button("Menu", "tok1"),))])
    sent = fake.sent_to(51)
    assert len(sent) >= 3
    assert all(utf16_len(c.text) <= 4096 for c in sent)
    assert [bool(c.keyboard) for c in sent] == [False] * (len(sent) - 1) + [True]
    assert "&lt;kể cả&gt;" in sent[0].text and "<b>không</b>" in sent[0].text

    photo = Reply(text="Biểu tượng **VNeID**", image="https://example.org/vneid.png")
    await polling.send("51", [photo, Reply(text="x", image="../../../etc/passwd")])
    photos = fake.of("sendPhoto")
    assert photos[-1].params["photo"] == "https://example.org/vneid.png"
    assert photos[-1].params["caption"] == "Biểu tượng <b>VNeID</b>"
    assert fake.sent_to(51)[-1].text == "x", "a path outside the content folder is never read"


async def test_content_image_is_uploaded(
    config: Config, db: Database, fake: FakeTelegram, tmp_path: Path
) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "images").mkdir()
    (content / "images" / "vneid.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    application = build_app(with_content(config, content), db=db)
    channel = await started(make_channel(application, fake))
    try:
        await channel.send("52", [Reply(text="Ảnh", image="images/vneid.png")])
        await channel.send("52", [Reply(text="Ảnh", image="images/vneid.png")])
        first, second = fake.of("sendPhoto")[-2:]
        assert first.params["photo"] == {"upload": "vneid.png", "size": 108}
        assert second.params["photo"] == "sent", "the uploaded photo's file_id is reused"
    finally:
        await application.stop()


def test_html_chunks_respect_the_limit_after_escaping() -> None:
    text = "<&>" * 3000 + "\n\n" + "😀" * 3000
    chunks = html_chunks(text)
    assert all(utf16_len(c) <= 4096 for c in chunks)
    assert "".join(chunks).count("&lt;") == 3000


async def test_token_never_appears_in_logs(
    app: App, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in SECRET_LOGGERS:  # bot.cli raises these to WARNING; here they say everything
        caplog.set_level(logging.DEBUG, logger=name)
    channel = await started(make_channel(app, fake))
    try:
        fake.fail("sendMessage", 502, chat_id=61)
        await exchange(fake, fake_push(fake), fake.text_update(61, "/start"))
        logging.getLogger("somewhere").warning("url was %s/getMe", fake.base_url + fake.token)
        try:
            raise RuntimeError(f"boom at {fake.base_url}{fake.token}/sendMessage")
        except RuntimeError:
            logging.getLogger("somewhere").exception("failed")
    finally:
        await channel.stop()
    assert any(r.name.startswith("telegram") for r in caplog.records), "PTB did log calls"
    assert "[REDACTED]" in caplog.text
    assert fake.token not in caplog.text
    secret_part = fake.token.split(":", 1)[1]
    assert secret_part not in caplog.text
    for record in caplog.records:
        assert fake.token not in record.getMessage()
        assert fake.token not in (record.exc_text or "")


def test_redaction_filter_cleans_message_args_and_tracebacks() -> None:
    secret = "987654:SecretForTheFilterTest"
    protect_secret(secret)
    assert redact(f"https://x/bot{secret}/getMe") == "https://x/bot[REDACTED]/getMe"
    try:
        raise ValueError(f"bad {secret}")
    except ValueError:
        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "token %s", (secret,), exc_info=sys.exc_info()
        )
    assert RedactSecrets().filter(record)
    assert secret not in record.getMessage()
    assert secret not in (record.exc_text or "")
    assert secret not in logging.Formatter().format(record)


def test_event_json_round_trip() -> None:
    # The fake's updates are valid Bot API JSON: PTB parses every kind we build.
    from telegram import Update

    fake = FakeTelegram()
    for update in (
        fake.text_update(1, "/start abc"),
        fake.callback_update(1, "t"),
        fake.sticker_update(1),
        fake.photo_update(1),
        fake.voice_update(1),
        fake.blocked_update(1),
    ):
        assert Update.de_json(json.loads(json.dumps(fake.stamp(update))), None) is not None


async def test_rejected_token_stops_only_telegram(
    app: App, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    channel = TelegramChannel(app.core, "42:wrong", base_url=fake.base_url)
    await channel.start()
    assert channel._task is not None
    await asyncio.wait_for(channel._task, 5)
    assert not channel.ready.is_set()
    assert "TELEGRAM_BOT_TOKEN" in caplog.text
    await channel.stop()


async def test_telegram_unreachable_at_start_is_retried(app: App, unused_tcp_port: int) -> None:
    fake = FakeTelegram()  # not listening yet: connections are refused
    channel = TelegramChannel(
        app.core,
        fake.token,
        base_url=f"http://127.0.0.1:{unused_tcp_port}/bot",
        backoff=(0.01, 0.02),
        poll_timeout=1.0,
    )
    app.channels[channel.name] = channel
    await channel.start()
    await asyncio.sleep(0.3)  # a few refused connections, retried
    assert not channel.ready.is_set()
    await fake.start(unused_tcp_port)
    try:
        await asyncio.wait_for(channel.ready.wait(), 10)
        fake.fail("getUpdates", 502)
        sent = await exchange(fake, fake_push(fake), fake.text_update(71, "/start"))
        assert sent, "polling carried on after a failed getUpdates"
    finally:
        await channel.stop()
        await fake.stop()


def test_render_photos_captions_and_buttons_only() -> None:
    buttons = (Button("Tiếp", "tok"),)
    long_caption = Reply(text="chữ " * 400, buttons=buttons, image="https://x.org/a.png")
    out = render(long_caption, "https://x.org/a.png", "Mời bạn chọn:")
    assert [o.photo is not None for o in out] == [True, False]
    assert out[0].markup is None and out[1].markup is not None
    only_buttons = render(Reply(text="", buttons=buttons), None, "Mời bạn chọn:")
    assert [o.text for o in only_buttons] == ["Mời bạn chọn:"] and only_buttons[0].markup
    short = render(Reply(text="**Ảnh**", buttons=buttons, image="u"), "u", "-")
    assert len(short) == 1 and short[0].text == "<b>Ảnh</b>" and short[0].markup
    assert render(Reply(text=""), None, "-") == []
