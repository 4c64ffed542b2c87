"""A team's note on a citizen (issue 17 item 5): written from "Ai cần giúp", shown there, in
question pushes and in the CSV; never seen by another team or by the citizen; listed in the
citizen's data view and deleted with it. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import func, select

from bot.app import App
from bot.channels.memory import MemoryChannel
from bot.core.replies import Reply
from handlers.payloads import CitizenCard, NoteDelete, NoteEdit
from storage.models import CitizenNote, utcnow
from storage.repos.followup import clean_note
from storage.repos.lessons import LessonRepo
from tests.conftest import consent, shared_bytes
from tests.replies import labels, texts
from tests.test_teams import leak, make_member, make_team, user_row

NOTE = "Con gái hay về cuối tuần, nhờ con cài giúp"


async def _stuck_citizen(app: App, chat: MemoryChannel, code: str) -> int:
    await consent(chat, "cit", name="Bác Ba")
    await chat.say("cit", code)
    citizen = await user_row(app, "cit")
    async with app.db.transaction() as session:
        await LessonRepo(session).start(
            citizen.id, "sk_vneid_level2", "memory", now=utcnow() - timedelta(days=30)
        )
    return citizen.id


async def _csv(app: App, replies: list[Reply]) -> str:
    ref = next(r.document for r in replies if r.document)
    return (await shared_bytes(app, ref)).decode("utf-8-sig")


async def test_a_note_is_written_shown_kept_to_the_team_and_erased(
    any_bot: tuple[App, MemoryChannel],
) -> None:
    app, chat = any_bot
    east, west = await make_team(app), await make_team(app, "Thôn Tây")
    await make_member(app, chat, "mem", east)
    await make_member(app, chat, "other", west)
    citizen = await _stuck_citizen(app, chat, east.code)

    await chat.say("mem", "/team")
    await chat.press("mem", "Ai cần giúp")
    replies = await chat.press("mem", "Bác Ba: ghi chú, nhắn tin")
    assert "Chưa có ghi chú" in texts(replies)
    replies = await chat.press("mem", "Viết ghi chú")
    assert "Không ghi bệnh tật, tôn giáo, số căn cước" in texts(replies)  # the reminder
    replies = await chat.say("mem", "CCCD 012345678901")
    assert "dãy số dài" in texts(replies)  # an ID number is refused, asked again
    replies = await chat.say("mem", NOTE)
    assert "Đã lưu ghi chú" in texts(replies) and NOTE in texts(replies)

    # 1. "Ai cần giúp"
    await chat.press("mem", "Công cụ của tổ")
    replies = await chat.press("mem", "Ai cần giúp")
    assert f"Ghi chú: {NOTE}" in texts(replies)
    # 2. the CSV
    await chat.press("mem", "Công cụ của tổ")
    table = await _csv(app, await chat.press("mem", "Xuất bảng CSV"))
    rows = list(csv.reader(io.StringIO(table)))
    assert rows[0][-1] == "Ghi chú của tổ" and rows[1][0] == "Bác Ba" and rows[1][-1] == NOTE
    # 3. a question pushed to the team
    await chat.say("cit", "/askteam")
    await chat.say("cit", "Cháu ơi cài VNeID thế nào?")
    assert f"Ghi chú: {NOTE}" in chat.sent["mem"][-1].text

    # another team's member sees nothing and cannot write
    assert "other" not in chat.sent
    for payload in (CitizenCard(east.id, citizen), NoteEdit(east.id, citizen)):
        replies = await chat.press_token("other", await leak(app, "other", payload.pack()))
        assert NOTE not in texts(replies) and "Bạn gõ ghi chú" not in texts(replies)
    replies = await chat.press_token(
        "other", await leak(app, "other", NoteDelete(west.id, citizen).pack())
    )
    assert "không còn trong tổ" in texts(replies)  # not a citizen of their team
    await chat.say("other", "/team")
    replies = await chat.press("other", "Ai cần giúp")
    assert NOTE not in texts(replies)

    # the citizen: no member command shows it, the data view says that one exists
    for payload in (CitizenCard(east.id, citizen), NoteEdit(east.id, citizen)):
        replies = await chat.press_token("cit", await leak(app, "cit", payload.pack()))
        assert NOTE not in texts(replies) and "Bạn gõ ghi chú" not in texts(replies)
    replies = await chat.say("cit", "dữ liệu của tôi")
    assert "Ghi chú của Tổ CNS Thôn Đông về bạn" in texts(replies)
    assert NOTE not in texts(replies)
    await chat.press("cit", "Xóa dữ liệu của tôi")
    await chat.press("cit", "Xóa hết dữ liệu")
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(CitizenNote)) == 0


async def test_editing_and_deleting_a_note(any_bot: tuple[App, MemoryChannel]) -> None:
    app, chat = any_bot
    east = await make_team(app)
    await make_member(app, chat, "mem", east)
    await _stuck_citizen(app, chat, east.code)
    await chat.say("mem", "/team")
    await chat.press("mem", "Ai cần giúp")
    await chat.press("mem", "Bác Ba: ghi chú, nhắn tin")
    await chat.press("mem", "Viết ghi chú")
    await chat.say("mem", "Hay ở nhà buổi chiều")
    await chat.press("mem", "Viết ghi chú")
    replies = await chat.say("mem", NOTE)
    assert NOTE in texts(replies) and "buổi chiều" not in texts(replies)
    replies = await chat.press("mem", "Xóa ghi chú")
    assert "Đã xóa ghi chú" in texts(replies) and "Xóa ghi chú" not in labels(replies)
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(CitizenNote)) == 0


def test_clean_note() -> None:
    assert clean_note("  nhờ   con  cài ") == "nhờ con cài"
    assert clean_note("x" * 201) is None
    assert clean_note("sđt 0912 345 678") is None
    assert clean_note("ở xóm 3, nhà số 12") == "ở xóm 3, nhà số 12"
    assert clean_note("") == ""
