"""The dashboard's part of issue 17 items 5 and 12: the team's notes on the citizens page (CSRF,
role and scope checked), and "send a message" on the who-needs-help page through the same
rules and thread as the chat's "Nhắn cho bác"."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.app import App
from bot.channels.memory import MemoryChannel
from storage.models import CitizenNote, User
from storage.repos.broadcasts import BroadcastRepo
from storage.repos.lessons import LessonRepo
from tests.replies import labels, texts
from tests.test_dashboard import MakeClient, citizen_of, clients, csrf_of, signed_in
from tests.test_teams import make_member, make_team, user_row
from tests.test_threads import _day, daytime

__all__ = ["clients"]  # the fixture, used by name

NOTE = "Con gái hay về cuối tuần"


async def test_notes_on_the_citizens_page_stay_with_the_team(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    east, west = await make_team(app, "Thôn Đông"), await make_team(app, "Thôn Tây")
    await make_member(app, chat, "mem_e", east)
    await make_member(app, chat, "mem_w", west)
    await citizen_of(app, chat, "cit", east, "Bà Đông")
    cit = await user_row(app, "cit")
    east_member = await signed_in(clients, chat, "mem_e")
    token = await csrf_of(east_member, "/quan-ly/nguoi-dan")
    form = {"csrf": token, "user": str(cit.id), "text": NOTE}
    no_csrf = await east_member.post(
        "/quan-ly/nguoi-dan/ghi-chu", data={**form, "csrf": "x"}, allow_redirects=False
    )
    assert no_csrf.status in (400, 403)
    page = await (await east_member.post("/quan-ly/nguoi-dan/ghi-chu", data=form)).text()
    assert "Đã lưu ghi chú" in page and NOTE in page and "Không ghi bệnh tật" in page
    refused = {**form, "text": "CCCD 012345678901"}
    page = await (await east_member.post("/quan-ly/nguoi-dan/ghi-chu", data=refused)).text()
    assert "chưa lưu" in page and NOTE in page
    # another team's member: neither reads nor writes it
    west_member = await signed_in(clients, chat, "mem_w")
    token_w = await csrf_of(west_member, "/quan-ly/nguoi-dan")
    for path in ("/quan-ly/nguoi-dan", "/quan-ly/can-giup", "/quan-ly/xuat/nguoi-dan.csv"):
        assert NOTE not in (await (await west_member.get(path)).read()).decode("utf-8-sig")
    write = {"csrf": token_w, "user": str(cit.id), "text": "ghi đè"}
    response = await west_member.post(
        "/quan-ly/nguoi-dan/ghi-chu", data=write, allow_redirects=False
    )
    assert response.status == 404
    async with app.db.transaction() as session:
        assert (await session.execute(select(CitizenNote.text))).scalar_one() == NOTE
    # the team's CSV from the dashboard has it
    csv = (await (await east_member.get("/quan-ly/xuat/nguoi-dan.csv")).read()).decode("utf-8-sig")
    assert NOTE in csv


async def test_send_a_message_keeps_the_rules_and_opens_a_thread(
    app: App, chat: MemoryChannel, text_chat: MemoryChannel, clients: MakeClient
) -> None:
    daytime(app)
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    await citizen_of(app, text_chat, "cit", team, "Bà Tư")
    cit = await user_row(app, "cit")
    async with app.db.transaction() as session:
        await LessonRepo(session).start(
            cit.id, "sk_vneid_level2", "textonly", now=_day(3) - timedelta(days=30)
        )
    client = await signed_in(clients, chat, "mem")
    token = await csrf_of(client, "/quan-ly/can-giup")
    form = {"csrf": token, "user": str(cit.id), "text": "Mai tổ qua nhà bác nhé."}
    page = await (await client.post("/quan-ly/can-giup/nhan-tin", data=form)).text()
    assert "Đã gửi tin nhắn" in page
    got = text_chat.sent["cit"][-1]
    assert "Mai tổ qua nhà" in got.text and labels([got]) == ["Trả lời tổ"]
    replies = await text_chat.say("cit", "Ừ, bác ở nhà")  # the reply reaches this member
    assert "chuyển lời bạn cho Anh mem" in texts(replies)
    assert "Ừ, bác ở nhà" in chat.sent["mem"][-1].text
    # quiet hours, then opt-out, then Zalo's window: refused, told, nothing sent
    sent = len(text_chat.sent["cit"])
    app.services.clock = lambda: _day(3) - timedelta(hours=4)  # 06:00 in Vietnam
    page = await (await client.post("/quan-ly/can-giup/nhan-tin", data=form)).text()
    assert "giờ nghỉ" in page
    daytime(app)
    async with app.db.transaction() as session:
        await BroadcastRepo(session).opt_out(cit.id)
    page = await (await client.post("/quan-ly/can-giup/nhan-tin", data=form)).text()
    assert "Người này đã chọn “dừng nhận tin”" in page
    async with app.db.transaction() as session:
        await BroadcastRepo(session).opt_in(cit.id)
        await session.execute(
            update(User)
            .where(User.id == cit.id)
            .values(channel="zalo_oa", last_seen=_day(3) - timedelta(days=9))
        )
    page = await (await client.post("/quan-ly/can-giup/nhan-tin", data=form)).text()
    assert "quá 7 ngày chưa nhắn Zalo OA" in page
    assert len(text_chat.sent["cit"]) == sent
