"""The Zalo channel against a fake Zalo Bot API server on 127.0.0.1: polling, webhook, errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.channels.zalo import (
    MAX_TEXT,
    parse_update,
    render,
)
from bot.config import Config, ConfigError
from bot.content.messages import messages_from
from bot.core.events import TextMessage, Unsupported
from bot.core.ports import DeliveryError, RetryAfter, Unreachable
from bot.core.replies import Button, Reply
from bot.redaction import protect_secret, redact
from storage.db import Database
from storage.models import SeenEvent, User
from tests.fake_zalo import (
    SECRET,
    TOKEN,
    Citizen,
    FakeZalo,
    free_port,
    handled,
    post_webhook,
    quick,
    start_bot,
    zalo,
    zalo_config,
)
from tests.waiting import eventually

MESSAGES = messages_from(Path(__file__).resolve().parent.parent / "content")
MENU = [
    "Hỏi đáp",
    "Bài học",
    "Tiến độ của tôi",
    "Liên hệ tổ công nghệ số",
    "Kiểm tra tin lừa đảo",
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    server = await FakeZalo(max_wait=0.2).start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(config: Config, db: Database, fake: FakeZalo) -> AsyncIterator[App]:
    app = await start_bot(config, db, fake)
    yield app
    await app.stop()


@pytest.fixture
async def hook_bot(config: Config, db: Database, fake: FakeZalo) -> AsyncIterator[App]:
    app = await start_bot(config, db, fake, webhook=True)
    yield app
    await app.stop()


# --- reading updates ----------------------------------------------------------------------


def test_updates_wrapped_or_bare_with_string_ids() -> None:
    fake = FakeZalo()
    for wrapped in (True, False):
        update = fake.message("abc123", "Xin chào", name="Ted", wrapped=wrapped)
        inbound = parse_update(update)
        assert inbound is not None
        assert inbound.chat_id == "abc123"
        assert (
            inbound.event == TextMessage(sender=inbound.event.sender, text="Xin chào")
            and inbound.event.sender.display_name == "Ted"
        )
        assert inbound.message_id == update.get("result", update)["message"]["message_id"]


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ("message.image.received", "image"),
        ("message.sticker.received", "sticker"),
        ("message.voice.received", "voice"),
        ("message.unsupported.received", "unsupported"),
        ("message.video.received", "video"),
    ],
)
def test_non_text_events_are_unsupported_kinds(event: str, kind: str) -> None:
    inbound = parse_update(FakeZalo().message("u1", event=event, photo="https://x/y.jpg"))
    assert inbound is not None
    assert isinstance(inbound.event, Unsupported)
    assert inbound.event.kind == kind


def test_image_with_caption_is_still_an_image() -> None:
    update = FakeZalo().message("u1", "cái này là gì", event="message.image.received")
    inbound = parse_update(update)
    assert inbound is not None and isinstance(inbound.event, Unsupported)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {},
        {"ok": True, "result": None},
        {"event_name": "message.text.received"},
        {"event_name": "message.text.received", "message": {"text": "hi"}},
        {"event_name": "message.reaction.received", "message": {"from": {"id": "u"}}},
        {"event_name": "follow", "message": {"from": {"id": "u"}, "text": "x"}},
        {"event_name": 5, "message": {}},
        {"event_name": "message.text.received", "message": {"from": {"id": ["u"]}, "text": "x"}},
    ],
)
def test_odd_bodies_are_ignored_without_crashing(body: object) -> None:
    assert parse_update(body) is None


def test_bots_and_groups_are_ignored() -> None:
    fake = FakeZalo()
    update = fake.message("u1", "hi", wrapped=False)
    update["message"]["from"]["is_bot"] = True
    assert parse_update(update) is None
    update = fake.message("g1", "hi", wrapped=False)
    update["message"]["chat"]["chat_type"] = "GROUP"
    assert parse_update(update) is None


def test_numeric_ids_are_read_as_strings() -> None:
    update = FakeZalo().message("x", "hi", wrapped=False)
    update["message"]["chat"]["id"] = 12345
    update["message"]["message_id"] = 99
    inbound = parse_update(update)
    assert inbound is not None
    assert inbound.chat_id == "12345" and inbound.message_id == "99"


# --- rendering ----------------------------------------------------------------------------


def test_render_numbers_buttons_and_letters_choices() -> None:
    """A turn's replies share one message (each call counts against Zalo's quota)."""
    calls = render(
        [
            Reply(text="**Chào** bạn"),
            Reply.question("Câu 1?", [Button("Có", "a"), Button("Không", "b")]),
            Reply.with_buttons("Hoặc:", [Button("Menu", "m")]),
        ],
        MESSAGES,
    )
    assert [c.method for c in calls] == ["sendMessage"]
    text = calls[0].text
    assert text.startswith("Chào bạn\n\nCâu 1?\n\nA. Có\nB. Không\n\nHoặc:\n\n1️⃣ Menu")
    assert "Trả lời A hoặc B." in text
    assert "Trả lời số" not in text  # one instruction per turn, never stacked


def test_long_list_is_one_message_with_a_short_instruction() -> None:
    """Six groups of buttons (the "Bài học" list) are one message ending "từ 1 đến 15"."""
    replies = [
        Reply.with_buttons(f"Nhóm {g}", [Button(f"Bài {g}.{i}", f"p{g}{i}") for i in range(3)])
        for g in range(5)
    ]
    (call,) = render(replies, MESSAGES)
    assert [line for line in call.text.splitlines() if line.startswith("Nhóm")] == [
        f"Nhóm {g}" for g in range(5)
    ]
    assert "Trả lời số từ 1 đến 15 để chọn" in call.text
    assert "14 hoặc 15" not in call.text


def test_a_turn_longer_than_a_message_is_split_at_replies() -> None:
    replies = [Reply(text=f"Đoạn {i}: " + "chữ " * 300) for i in range(3)]
    calls = render(replies, MESSAGES)
    assert [c.text[:7] for c in calls] == ["Đoạn 0:", "Đoạn 1:", "Đoạn 2:"]


def test_oversized_text_is_split_at_paragraphs() -> None:
    paragraphs = [f"Đoạn {i}: " + "chữ có dấu " * 40 for i in range(12)]
    calls = render([Reply(text="\n\n".join(paragraphs))], MESSAGES)
    assert len(calls) > 1
    assert all(1 <= len(c.text) <= MAX_TEXT for c in calls)
    assert all(c.text.startswith("Đoạn") for c in calls)
    assert " ".join(c.text for c in calls).split() == " ".join(paragraphs).split()


def test_emoji_heavy_text_fits_in_utf16_units() -> None:
    calls = render([Reply(text="👍" * 1500)], MESSAGES)
    assert all(len(c.text.encode("utf-16-le")) // 2 <= MAX_TEXT for c in calls)
    assert "".join(c.text for c in calls) == "👍" * 1500


def test_https_image_is_a_photo_other_images_are_text() -> None:
    calls = render(
        [
            Reply(text="Trước"),
            Reply.picture("https://dichvucong.gov.vn/anh.png", "Chú thích"),
            Reply.picture("http://example.org/a.png", "Ảnh thường"),
            Reply.picture("images/local.png", "Ảnh trong máy"),
            Reply.picture("https://dichvucong.gov.vn/hai.png", "Ảnh hai"),
            Reply.with_buttons("Tiếp nhé", [Button("Tiếp", "t")]),
        ],
        MESSAGES,
    )
    assert [c.method for c in calls] == ["sendPhoto", "sendPhoto"]  # one image per message
    first, second = calls
    assert first.photo == "https://dichvucong.gov.vn/anh.png"
    assert first.text == (
        "Trước\n\nChú thích\n\nHình ảnh: http://example.org/a.png\n\nẢnh thường\n\nẢnh trong máy"
    )
    assert second.photo == "https://dichvucong.gov.vn/hai.png"
    assert second.text.startswith("Ảnh hai\n\nTiếp nhé\n\n1️⃣ Tiếp")


def test_photo_without_caption_has_no_caption_field() -> None:
    (call,) = render([Reply.picture("https://a.vn/x.png")], MESSAGES)
    assert call.payload("c1") == {"chat_id": "c1", "photo": "https://a.vn/x.png"}


# --- secrets never logged -----------------------------------------------------------------


def test_redaction_hides_token_and_bot_paths() -> None:
    protect_secret(TOKEN)
    text = f"POST https://bot-api.zaloplatforms.com/bot{TOKEN}/sendMessage failed ({TOKEN})"
    cleaned = redact(text)
    assert TOKEN not in cleaned
    assert "fake-zalo-token" not in cleaned
    assert "/bot[REDACTED]/sendMessage" in cleaned
    assert redact("https://x/bot12:ab-c/getMe") == "https://x/bot[REDACTED]/getMe"


def test_redaction_cleans_messages_args_and_tracebacks() -> None:
    protect_secret(TOKEN)
    log = logging.getLogger("test.zalo.redact")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("calling %s", f"http://h/bot{TOKEN}/getMe")
        try:
            raise RuntimeError(f"bad url http://h/bot{TOKEN}/sendMessage")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    formatter = logging.Formatter()
    for record in records:
        assert TOKEN not in formatter.format(record)
    assert "/bot[REDACTED]/getMe" in formatter.format(records[0])


@pytest.mark.parametrize("filtered", [True, False])
async def test_the_token_never_reaches_the_logs(
    config: Config,
    db: Database,
    fake: FakeZalo,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    filtered: bool,
) -> None:
    """Not even without the redacting filter: no URL is ever logged in the first place."""
    if not filtered:
        import bot.redaction

        monkeypatch.setattr(bot.redaction, "redact_record", lambda record: None)
    caplog.set_level(logging.DEBUG)
    fake.fail("sendMessage", 429, 500, "drop")
    app = await start_bot(config, db, fake)
    try:
        citizen = Citizen(app, fake)
        await citizen.say("/start")
        fake.fail("sendMessage", 400)
        await citizen.say("1")
        fake.revoke()
        await eventually(lambda: zalo(app).disabled)
    finally:
        await app.stop()
    assert caplog.records
    for record in caplog.records:
        text = caplog.handler.format(record)
        assert TOKEN not in text
        assert "fake-zalo-token" not in text


# --- polling ------------------------------------------------------------------------------


async def test_start_checks_the_token_and_polls(bot: App, fake: FakeZalo) -> None:
    methods = [c.method for c in fake.calls]
    assert methods[0] == "getMe"
    assert methods[1] == "deleteWebhook"
    assert "getUpdates" in methods
    assert fake.of("getUpdates")[0].body == {"timeout": "1"}
    assert zalo(bot).account["account_name"] == "bot.troly.so"


async def test_idle_polls_408_keep_going(
    bot: App, fake: FakeZalo, caplog: pytest.LogCaptureFixture
) -> None:
    channel = zalo(bot)
    await eventually(lambda: len(fake.of("getUpdates")) >= 5)
    assert all(c.status == 408 for c in fake.of("getUpdates")[:4])
    assert not channel.disabled
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    answer = await Citizen(bot, fake).say("xin chào")
    assert "Trợ lý số" in answer


async def test_welcome_consent_by_number_and_menu(bot: App, fake: FakeZalo) -> None:
    citizen = Citizen(bot, fake)
    answer = await citizen.say("/start")
    assert "Xin chào Bác Ba" in answer
    assert "1️⃣ Đồng ý\n2️⃣ Không đồng ý\n3️⃣ Xem chi tiết" in answer
    assert "Trả lời số 1, 2 hoặc 3" in answer
    answer = await citizen.say("1")
    assert "Cảm ơn bạn" in answer
    assert [label for _key, label in citizen.choices()] == MENU
    answer = await citizen.say(citizen.key("Liên hệ"))
    assert "Tổ công nghệ số cộng đồng" in answer


@pytest.mark.parametrize("command", ["/start", "start", "bat dau", "Bắt đầu", "BAT DAU"])
async def test_start_with_or_without_slash(bot: App, fake: FakeZalo, command: str) -> None:
    citizen = Citizen(bot, fake)
    await citizen.say("xin chao")
    await citizen.say("1")
    answer = await citizen.say(command)
    assert "Chào Bác Ba" in answer
    assert [label for _key, label in citizen.choices()] == MENU


async def test_menu_or_zero_at_any_time(bot: App, fake: FakeZalo) -> None:
    citizen = Citizen(bot, fake)
    await citizen.say("chào")
    await citizen.say("đồng ý")  # the label typed works like the number
    for text in ("menu", "0", "Menu", "/menu"):
        await citizen.say("huong dan")
        answer = await citizen.say(text)
        assert [label for _key, label in citizen.choices()] == MENU, (text, answer)


async def test_label_without_diacritics_presses(bot: App, fake: FakeZalo) -> None:
    citizen = Citizen(bot, fake)
    await citizen.say("hi")
    await citizen.say("dong y")
    answer = await citizen.say("lien he to cong nghe so")
    assert "Tổ công nghệ số cộng đồng" in answer


@pytest.mark.parametrize(
    "event", ["message.sticker.received", "message.image.received", "message.voice.received"]
)
async def test_stickers_images_voice_get_a_kind_reply(bot: App, fake: FakeZalo, event: str) -> None:
    citizen = Citizen(bot, fake)
    await citizen.say("hi")
    await citizen.say("1")
    answer = await citizen.send(fake.message(citizen.chat_id, event=event, sticker="abc"))
    assert "chỉ đọc được chữ" in answer
    assert "Trả lời số" in answer


async def test_duplicate_event_is_handled_once(bot: App, fake: FakeZalo) -> None:
    citizen = Citizen(bot, fake)
    update = fake.message(citizen.chat_id, "xin chào", message_id="dup-0001")
    first = await citizen.send(update)
    assert "Trợ lý số" in first
    again = await citizen.send(update)
    assert again == ""
    async with bot.db.transaction() as session:
        seen = await session.execute(select(SeenEvent.event_id))
        assert seen.scalars().all() == [f"{citizen.chat_id}:dup-0001"]


async def test_duplicate_across_processes(config: Config, any_db: Database, fake: FakeZalo) -> None:
    """Two processes behind one webhook address get the same event: one answers it."""
    first = await start_bot(config, any_db, fake, webhook=True)
    second = await start_bot(config, any_db, fake, webhook=True)
    try:
        for n in range(5):
            update = fake.message(f"c{n}", "xin chào", message_id=f"same-event-{n}")
            statuses = await asyncio.gather(
                post_webhook(first, update), post_webhook(second, update)
            )
            assert list(statuses) == [200, 200]
        await zalo(first).settle()
        await zalo(second).settle()
        await Citizen(first, fake, chat_id="reference").say("xin chào")
        assert {len(fake.texts(f"c{n}")) for n in range(5)} == {len(fake.texts("reference"))}
        assert len({c.body["chat_id"] for c in fake.sent()}) == 6
        assert len(fake.texts("c0")) == len(fake.texts("c1"))
        async with any_db.transaction() as session:
            seen = await session.execute(select(func.count(SeenEvent.id)))
            assert seen.scalar_one() == 6
    finally:
        await second.stop()
        await first.stop()


async def test_messages_of_one_chat_keep_their_order(bot: App, fake: FakeZalo) -> None:
    citizen = Citizen(bot, fake)
    await citizen.say("hi")
    await citizen.say("1")
    before = len(fake.sent(citizen.chat_id))
    updates = [fake.message(citizen.chat_id, text) for text in ("huong dan", "lien he", "0")]
    for update in updates:
        fake.push(update)
    await handled(bot, fake, updates)
    texts = fake.texts(citizen.chat_id, since=before)
    assert "Cách dùng" in texts[0]
    assert any("Tổ công nghệ số cộng đồng" in t for t in texts[1:-1])
    assert "Bạn muốn làm gì" in texts[-1]


async def test_typing_is_shown_before_a_slow_reply(bot: App, fake: FakeZalo) -> None:
    channel = zalo(bot)
    channel.typing_after = 0.0
    original = channel.core.handle

    async def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.1)
        return await original(*args, **kwargs)

    channel.core.handle = slow  # type: ignore[method-assign]
    await Citizen(bot, fake).say("xin chào")
    methods = [c.method for c in fake.calls if c.method != "getUpdates"]
    typing = methods.index("sendChatAction")
    assert typing < methods.index("sendMessage")
    assert fake.of("sendChatAction")[0].body == {
        "chat_id": "6ede9afa66b88fe6d6a9",
        "action": "typing",
    }


async def test_quick_replies_show_no_typing(bot: App, fake: FakeZalo) -> None:
    zalo(bot).typing_after = 5.0
    await Citizen(bot, fake).say("xin chào")
    assert fake.of("sendChatAction") == []


# --- errors -------------------------------------------------------------------------------


async def test_429_is_retried_with_backoff(bot: App, fake: FakeZalo) -> None:
    fake.fail("sendMessage", 429, 429)
    answer = await Citizen(bot, fake).say("xin chào")
    assert "Trợ lý số" in answer
    statuses = [c.status for c in fake.of("sendMessage")]
    assert statuses[:3] == [429, 429, 200]
    first, second, third = fake.of("sendMessage")[:3]
    assert second.at - first.at >= 0.01
    assert third.at - second.at >= 0.02


async def test_server_errors_are_retried_a_lost_answer_is_not(bot: App, fake: FakeZalo) -> None:
    fake.fail("sendMessage", 502, 503)
    answer = await Citizen(bot, fake).say("xin chào")
    assert "Trợ lý số" in answer
    # The connection is lost after the platform read the request: it may have been delivered,
    # so it is never sent again (issue #18 item 1; this test retried it before).
    fake.fail("sendMessage", "drop")
    before = len(fake.of("sendMessage"))
    assert await Citizen(bot, fake, chat_id="other").say("xin chào") == ""
    assert len(fake.of("sendMessage")) == before + 1


async def test_polling_survives_network_errors(config: Config, db: Database) -> None:
    fake = FakeZalo(max_wait=0.2)
    port = free_port()
    fake.port = port  # nobody listens yet: every call fails to connect
    app = build_app(zalo_config(config, fake), db=db)
    quick(zalo(app))
    await app.start()
    try:
        await asyncio.sleep(0.3)
        assert zalo(app).account == {}
        await fake.start(port)
        await eventually(lambda: fake.of("getUpdates"))
        fake.fail("getUpdates", "drop", 500)
        answer = await Citizen(app, fake).say("xin chào")
        assert "Trợ lý số" in answer
    finally:
        await app.stop()
        await fake.stop()


async def test_401_stops_only_the_zalo_channel(
    config: Config, db: Database, fake: FakeZalo, caplog: pytest.LogCaptureFixture
) -> None:
    app = await start_bot(config, db, fake)
    try:
        channel = zalo(app)
        fake.revoke()
        await eventually(lambda: channel.disabled)
        lines = [r for r in caplog.records if "401" in r.getMessage()]
        assert len(lines) == 1
        assert lines[0].levelno == logging.ERROR
        assert "ZALO_BOT_TOKEN" in lines[0].getMessage()
        calls = len(fake.calls)
        await asyncio.sleep(0.3)
        assert len(fake.calls) == calls  # no more polling
        with pytest.raises(DeliveryError):
            await channel.send("c1", [Reply(text="hi")])
        # the rest of the bot keeps running: the web chat answers
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{app.runner.addresses[0][1]}/api/chat",  # type: ignore[union-attr]
                json={"text": "xin chào"},
            ) as response,
        ):
            assert response.status == 200
            assert "Trợ lý số" in (await response.json())["replies"][0]["text"]
    finally:
        await app.stop()


async def test_401_at_start_is_one_line_and_no_polling(
    config: Config, db: Database, fake: FakeZalo, caplog: pytest.LogCaptureFixture
) -> None:
    fake.revoke()
    app = build_app(zalo_config(config, fake), db=db)
    quick(zalo(app))
    await app.start()
    try:
        await eventually(lambda: zalo(app).disabled)
        assert [c.method for c in fake.calls] == ["getMe"]
        assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    finally:
        await app.stop()


async def test_401_while_replying_stops_the_channel(bot: App, fake: FakeZalo) -> None:
    fake.fail("sendMessage", 401)
    await Citizen(bot, fake).say("xin chào")
    assert zalo(bot).disabled


async def test_push_send_and_its_errors(bot: App, fake: FakeZalo) -> None:
    channel = zalo(bot)
    long_text = "\n\n".join(f"Phần {i}. " + "nội dung " * 60 for i in range(10))
    await channel.send("c9", [Reply(text=long_text)])
    parts = fake.texts("c9")
    assert len(parts) > 1 and all(len(p) <= MAX_TEXT for p in parts)
    fake.fail("sendMessage", 429, 429, 429, 429)
    with pytest.raises(RetryAfter) as caught:
        await channel.send("c9", [Reply(text="hi")])
    assert caught.value.seconds == channel.push_retry_after
    fake.fail("sendMessage", 400)
    with pytest.raises(DeliveryError) as error:
        await channel.send("c9", [Reply(text="hi")])
    assert not isinstance(error.value, (Unreachable, RetryAfter))
    fake.fail("sendMessage", (400, "User has blocked the bot"))
    with pytest.raises(Unreachable):
        await channel.send("c9", [Reply(text="hi")])
    fake.fail("sendMessage", "drop", "drop", "drop", "drop")
    with pytest.raises(DeliveryError):
        await channel.send("c9", [Reply(text="hi")])


async def test_photo_refused_falls_back_to_text(bot: App, fake: FakeZalo) -> None:
    channel = zalo(bot)
    fake.fail("sendPhoto", 400)
    await channel.send("c7", [Reply.picture("https://a.vn/x.png", "Chú thích")])
    assert fake.texts("c7") == ["Hình ảnh: https://a.vn/x.png\n\nChú thích"]
    await channel.send("c7", [Reply.picture("https://a.vn/y.png", "Ảnh")])
    assert fake.sent("c7")[-1].method == "sendPhoto"
    assert fake.sent("c7")[-1].body == {
        "chat_id": "c7",
        "photo": "https://a.vn/y.png",
        "caption": "Ảnh",
    }


async def test_oversized_reply_in_a_conversation(bot: App, fake: FakeZalo) -> None:
    citizen = Citizen(bot, fake)
    await citizen.say("hi")
    await citizen.say("1")
    before = len(fake.sent(citizen.chat_id))
    await citizen.say("a" * 100_000)
    for call in fake.sent(citizen.chat_id)[before:]:
        assert 1 <= len(call.body["text"]) <= MAX_TEXT


# --- webhook ------------------------------------------------------------------------------


async def test_webhook_is_set_with_the_secret(hook_bot: App, fake: FakeZalo) -> None:
    assert fake.webhook == {"url": "https://bot.example.vn/zalo/webhook", "secret_token": SECRET}
    assert fake.of("getUpdates") == []
    assert zalo(hook_bot).webhook_path == "/zalo/webhook"


@pytest.mark.parametrize("secret", [None, "", "wrong-secret-0123456789", SECRET + "x", "é" * 10])
async def test_webhook_wrong_secret_is_403(
    hook_bot: App, fake: FakeZalo, secret: str | None
) -> None:
    status = await post_webhook(hook_bot, fake.message("c1", "xin chào"), secret=secret)
    assert status == 403
    await zalo(hook_bot).settle()
    assert fake.sent() == []
    async with hook_bot.db.transaction() as session:
        assert (await session.execute(select(func.count(User.id)))).scalar_one() == 0


@pytest.mark.parametrize("wrapped", [True, False])
async def test_webhook_body_wrapped_or_bare(hook_bot: App, fake: FakeZalo, wrapped: bool) -> None:
    citizen = Citizen(hook_bot, fake)
    answer = await citizen.send(fake.message(citizen.chat_id, "xin chào", wrapped=wrapped))
    assert "Trợ lý số" in answer


@pytest.mark.parametrize("raw", [b"not json", b"[]", b"\xff\xfe", b"", b'"text"'])
async def test_webhook_bad_bodies_are_400(hook_bot: App, raw: bytes) -> None:
    assert await post_webhook(hook_bot, None, raw=raw) == 400


async def test_webhook_answers_before_processing(hook_bot: App, fake: FakeZalo) -> None:
    channel = zalo(hook_bot)
    gate = asyncio.Event()
    original = channel.core.handle

    async def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        await gate.wait()
        return await original(*args, **kwargs)

    channel.core.handle = held  # type: ignore[method-assign]
    status = await asyncio.wait_for(
        post_webhook(hook_bot, fake.message("c1", "xin chào")), timeout=2
    )
    assert status == 200
    assert fake.sent() == []
    gate.set()
    await channel.settle()
    assert "Trợ lý số" in fake.texts("c1")[0]


async def test_webhook_needs_a_secret(config: Config, db: Database, fake: FakeZalo) -> None:
    cfg = zalo_config(config, fake, webhook=True)
    cfg = replace(cfg, secrets=replace(cfg.secrets, zalo_webhook_secret="short"))
    with pytest.raises(ConfigError, match="ZALO_WEBHOOK_SECRET"):
        build_app(cfg, db=db)


# --- wiring -------------------------------------------------------------------------------


async def test_no_token_no_channel(app: App) -> None:
    assert "zalo" not in app.channels


async def test_zalo_and_telegram_in_one_process(
    config: Config, db: Database, fake: FakeZalo
) -> None:
    """Both messengers and the web chat run together; a refused Zalo token stops only Zalo."""
    from bot.config import TelegramConfig
    from tests.fake_telegram import FakeTelegram

    telegram = FakeTelegram()
    await telegram.start()
    both = zalo_config(config, fake, telegram_token=telegram.token)
    both = replace(both, telegram=TelegramConfig(base_url=telegram.base_url))
    app = build_app(both, db=db)
    quick(zalo(app))
    try:
        assert {"web", "telegram", "zalo"} <= set(app.channels)
        await app.start()
        answer = await Citizen(app, fake).say("xin chào")
        assert "Trợ lý số" in answer
        telegram.push(telegram.text_update(77, "xin chào"))
        await eventually(lambda: "Trợ lý số" in telegram.texts_to(77))

        fake.revoke()
        await eventually(lambda: zalo(app).disabled)
        telegram.push(telegram.text_update(78, "/start"))
        await eventually(lambda: "Trợ lý số" in telegram.texts_to(78))
    finally:
        await app.stop()
        await telegram.stop()


async def test_users_are_stored_per_channel(bot: App, fake: FakeZalo, db: Database) -> None:
    await Citizen(bot, fake, chat_id="z-1").say("xin chào")
    async with db.transaction() as session:
        user = (await session.execute(select(User))).scalar_one()
    assert (user.channel, user.external_id) == ("zalo", "z-1")
    assert user.display_name is None  # nothing personal before consent
