"""The certificate for the five basic skills (issue 20 item 5): issued once when the fifth job's
skill is passed, drawn as a PNG whose rows and QR code match the stored record, checked in the
chat and with ``trolyso cert verify``, deleted with the citizen's data. SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select, update

from bot.app import App, build_app
from bot.channels.memory import RICH, TEXT_ONLY, MemoryChannel
from bot.cli import parser
from bot.commands.cert import verify_command, verify_lines
from bot.config import Config
from bot.core.replies import Reply
from bot.reports.certificate import certificate_rows
from storage.db import Database
from storage.models import Certificate, Role, User
from storage.repos.certificates import CODE_ALPHABET, normal_code, shown
from storage.repos.teams import TeamRepo
from tests.conftest import consent
from tests.replies import keys, labels, texts
from tests.test_progress import ONE_PER_JOB, pass_directly


@pytest.fixture
async def cert_app(config: Config, any_db: Database) -> AsyncIterator[App]:
    """The bot on SQLite and on PostgreSQL."""
    application = build_app(config, db=any_db)
    yield application
    await application.stop()


def channel(app: App, name: str = "memory", rich: bool = True) -> MemoryChannel:
    chat = MemoryChannel(app.core, name=name, capabilities=RICH if rich else TEXT_ONLY)
    app.channels[chat.name] = chat
    return chat


async def take(chat: MemoryChannel, app: App, user: str, skill_id: str) -> list[Reply]:
    """Take a lesson and its quiz through the chat, answering right; the last turn's replies."""
    skill = app.store.current.lessons.get(skill_id)
    assert skill is not None
    await chat.say(user, "bài học")
    replies = await chat.press(user, skill.title)
    for _ in skill.steps:
        replies = await chat.press(user, "Tiếp")
    for question in skill.quiz:
        replies = await chat.press(user, question.answer)
    return replies


async def stored(app: App) -> list[Certificate]:
    async with app.db.transaction() as session:
        return list((await session.execute(select(Certificate))).scalars())


def qr_codes(png: bytes) -> list[str]:
    with Image.open(io.BytesIO(png)) as image:
        return [result.text for result in zxingcpp.read_barcodes(image)]


async def picture(app: App, replies: Sequence[Reply]) -> bytes:
    """The PNG of the certificate reply, read back from the shared files."""
    ref = next(r.document for r in replies if r.key == "cert.sent")
    assert ref is not None and ref.endswith("/giay-ghi-nhan.png")
    shared = await app.core.file(ref)
    assert shared is not None and shared.content_type == "image/png"
    return shared.data


async def reach_five(app: App, chat: MemoryChannel, user: str) -> list[Reply]:
    """Four jobs recorded directly, the fifth passed through the chat."""
    await pass_directly(app, user, *(ONE_PER_JOB[job] for job in (1, 2, 3, 4)))
    return await take(chat, app, user, ONE_PER_JOB[5])


def test_codes_are_unambiguous_and_typed_loosely() -> None:
    assert not set("01OIL") & set(CODE_ALPHABET)
    assert normal_code("abcde-23456") == "ABCDE23456"
    assert normal_code(" ABCDE 23456 ") == "ABCDE23456"
    assert normal_code("ABCDE-2345") is None and normal_code("ABCDE-2345O") is None


async def test_issued_once_drawn_checked_and_deleted(
    cert_app: App,
) -> None:
    app = cert_app
    chat = channel(app)
    async with app.db.transaction() as session:
        team = await TeamRepo(session).create("Tổ CNS thôn Đông", "Xã Tân Hòa", "Thôn Đông")
    await consent(chat, "u1", name="Nguyễn Thị Hằng")
    await chat.say("u1", team.code)

    # four of five jobs: no certificate, no button
    await pass_directly(app, "u1", *(ONE_PER_JOB[job] for job in (1, 2, 3, 4)))
    assert "Nhận giấy ghi nhận" not in labels(await chat.say("u1", "tiến độ"))
    assert keys(await chat.say("u1", "giấy ghi nhận")) == ["cert.not_yet"]
    assert await stored(app) == []

    # the fifth job's quiz: offered once, right after the result
    result = await take(chat, app, "u1", ONE_PER_JOB[5])
    assert "cert.offer" in keys(result)
    [certificate] = await stored(app)
    replies = await chat.press("u1", "Nhận giấy ghi nhận")
    png = await picture(app, replies)
    assert qr_codes(png) == [certificate.code]
    assert shown(certificate.code) in texts(replies)

    drawn = [row.text for row in certificate_rows(app.store.current.messages, certificate)]
    lessons = app.store.current.lessons
    titles = [lessons.get(ONE_PER_JOB[job]).title for job in range(1, 6)]  # type: ignore[union-attr]
    assert [title for _, _, title in certificate.skills] == titles
    for text in (
        "GIẤY GHI NHẬN",
        "Tổ CNS thôn Đông ghi nhận",
        "Nguyễn Thị Hằng",
        "Thôn Đông, Xã Tân Hòa",
        f"Mã xác minh: {shown(certificate.code)}",
        *(f"{job}. {title}" for job, title in enumerate(titles, 1)),
        "Đây là ghi nhận của Tổ công nghệ số cộng đồng, không phải văn bằng, "
        "chứng chỉ của Nhà nước.",
    ):
        assert text in drawn, text
    assert any(t.startswith("Ngày ") and t[5:].count("/") == 2 for t in drawn)

    # later: from the progress view, the same certificate; a sixth skill offers nothing
    assert "Nhận giấy ghi nhận" in labels(await chat.say("u1", "tiến độ"))
    again = await chat.press("u1", "Nhận giấy ghi nhận")
    assert qr_codes(await picture(app, again)) == [certificate.code]
    assert "cert.offer" not in keys(await take(chat, app, "u1", "sk_spot_phone_scam"))
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Certificate)) == 1

    # a team member sees what it says; a citizen only that it is valid
    await consent(chat, "m1", name="Chị Lan")
    async with app.db.transaction() as session:
        await session.execute(update(User).where(User.external_id == "m1").values(role=Role.MEMBER))
    code = shown(certificate.code).lower()
    checked = texts(await chat.say("m1", f"kiểm tra giấy ghi nhận {code}"))
    assert "giấy ghi nhận thật" in checked and "Nguyễn Thị Hằng" in checked
    assert "Tổ CNS thôn Đông" in checked and titles[3] in checked
    await consent(chat, "c2", name="Bác Tư")
    await chat.say("c2", "kiểm tra giấy ghi nhận")
    citizen_view = texts(await chat.say("c2", code))
    assert "giấy ghi nhận thật" in citizen_view and "Nguyễn Thị Hằng" not in citizen_view
    assert keys(await chat.say("m1", "/checkcert ABCDE-23456")) == ["cert.check_bad"]

    # the CLI, in Vietnamese (the command's own function, on this database)
    assert parser().parse_args(["cert", "verify", code]).handler is verify_command
    async with app.db.transaction() as session:
        valid, lines = await verify_lines(session, code)
    out = "\n".join(lines)
    assert valid and "HỢP LỆ" in out and "Nguyễn Thị Hằng" in out
    assert "Thôn Đông, Xã Tân Hòa" in out and f"5. {titles[4]}" in out

    # the data view lists it; deleting the data deletes it
    assert shown(certificate.code) in texts(await chat.say("u1", "/mydata"))
    await chat.say("u1", "/deletedata")
    await chat.press("u1", "Xóa hết dữ liệu")
    assert await stored(app) == []
    assert keys(await chat.say("m1", f"/checkcert {code}")) == ["cert.check_bad"]
    async with app.db.transaction() as session:
        valid, lines = await verify_lines(session, code)
    assert not valid and "KHÔNG HỢP LỆ" in lines[0]


async def test_text_only_channel_gets_the_text_and_code(cert_app: App) -> None:
    chat = channel(cert_app, "textonly", rich=False)
    await consent(chat, "z1")
    await reach_five(cert_app, chat, "z1")
    replies = await chat.press("z1", "Nhận giấy ghi nhận")
    [certificate] = await stored(cert_app)
    text = texts(replies)
    assert shown(certificate.code) in text and "5 kỹ năng số cơ bản" in text
    assert "Dùng" in text or certificate.skills[4][2] in text
