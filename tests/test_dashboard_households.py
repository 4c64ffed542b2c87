"""Households in the commune report: a member records a short household label for a citizen on
the citizens page; a household counts as reached when one member has the five basic skills; the
report is a CSV and a printable page; the citizen sees the label and deleting removes it."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from bot.app import App
from bot.channels.memory import MemoryChannel
from storage.models import TeamMembership
from storage.repos.teams import ProgressRepo, TeamRepo, clean_household
from tests.replies import texts
from tests.test_dashboard import Client, MakeClient, citizen_of, clients, csrf_of, signed_in
from tests.test_teams import make_member, make_team, user_row

__all__ = ["clients"]  # the fixture, shared with test_dashboard

FIVE = ["sk_vneid_level2", "sk_mobile_banking_safe", "sk_online_shopping_safe"]
FIVE += ["sk_spot_phishing", "sk_local_platform"]  # one skill of each of the five jobs


async def _label(client: Client, app: App, user: str, label: str) -> str:
    token = await csrf_of(client, "/quan-ly/nguoi-dan")
    row = await user_row(app, user)
    response = await client.post(
        "/quan-ly/nguoi-dan/ho", data={"csrf": token, "user": str(row.id), "household": label}
    )
    assert response.status == 200
    return await response.text()


async def _five(app: App, user: str, team_id: int) -> None:
    row = await user_row(app, user)
    async with app.db.transaction() as session:
        for skill in FIVE:
            await ProgressRepo(session).guide(row.id, skill, team_id, None)


def test_a_household_label_is_a_short_name_not_a_number() -> None:
    assert clean_household("  Nhà  bác Tư ") == "Nhà bác Tư"
    assert clean_household("Hộ 12") == "Hộ 12"
    assert clean_household("") == ""
    assert clean_household("0912 345 678") is None  # a phone number
    assert clean_household("012345678901") is None  # an ID number
    assert clean_household("x" * 41) is None


async def test_households_in_the_commune_report(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    east = await make_team(app, "Thôn Đông", "Xã Tân Hòa")
    west = await make_team(app, "Thôn Tây", "Xã Tân Hòa")
    await make_member(app, chat, "mem", east)
    await make_member(app, chat, "cb", west, role="commune")
    for user in ("a", "b", "c", "d"):
        await citizen_of(app, chat, user, east, f"Bà {user}")
    await citizen_of(app, chat, "w", west, "Ông Tây")
    await _five(app, "a", east.id)
    member = await signed_in(clients, chat, "mem")
    assert 'id="household-saved"' in await _label(member, app, "a", "Nhà bác Tư")
    await _label(member, app, "b", "nha bac tu")  # the same household, typed plainly
    await _label(member, app, "c", "Hộ 12")
    assert "không ghi địa chỉ hay số giấy tờ" in await _label(member, app, "d", "0912345678")
    page = await (await member.get("/quan-ly/nguoi-dan")).text()
    assert 'value="Nhà bác Tư"' in page and 'value="Hộ 12"' in page
    official = await signed_in(clients, chat, "cb")
    report = await official.get("/quan-ly/xuat/bao-cao-xa.csv")
    rows = list(csv.reader(io.StringIO((await report.read()).decode("utf-8-sig"))))
    assert rows[0][5:7] == ["Số hộ đã ghi", "Hộ có ít nhất 1 người đạt 5 kỹ năng cơ bản"]
    by_village = {r[1]: r for r in rows[1:] if len(r) > 1}
    assert by_village["Thôn Đông"][3:7] == ["4", "1", "2", "1"]  # citizens, five, households
    assert by_village["Thôn Tây"][3:7] == ["1", "0", "0", "0"]
    assert "ít nhất 1 người đạt 5 kỹ năng" in rows[-1][0]  # the definition goes with the data
    printable = await official.get("/quan-ly/xuat/bao-cao-xa")
    html = await printable.text()
    assert printable.status == 200 and "Cách tính hộ" in html and "CV 3240/BTTTT-CĐSQG" in html
    assert "Nhà bác Tư" not in html  # counts only, no household names
    east_row = html.split('<th scope="row">Thôn Đông', 1)[1].split("</tr>", 1)[0]
    assert "<td>4</td><td>1</td><td>2</td><td>1</td><td>1</td>" in east_row
    # The citizen sees their household; moving to another village clears it
    assert "Hộ (tổ ghi để đếm số hộ trong báo cáo): Hộ 12" in texts(await chat.say("c", "/mydata"))
    c_row = await user_row(app, "c")
    async with app.db.transaction() as session:
        await TeamRepo(session).join(c_row.id, west.id, "code")
    async with app.db.transaction() as session:
        moved = await session.get(TeamMembership, c_row.id)
        assert moved is not None and moved.household is None
    # Deleting the data deletes the label with the membership
    await chat.say("a", "/deletedata")
    await chat.press("a", "Xóa hết dữ liệu")
    async with app.db.transaction() as session:
        labels = set((await session.execute(select(TeamMembership.household))).scalars())
    assert "Nhà bác Tư" not in labels and "nha bac tu" in labels


async def test_only_the_citizens_team_may_record_a_household(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    east = await make_team(app, "Thôn Đông", "Xã Tân Hòa")
    north = await make_team(app, "Thôn Bắc", "Xã An Phú")
    await make_member(app, chat, "mem", east)
    await make_member(app, chat, "cb", east, role="commune")
    await citizen_of(app, chat, "n", north, "Cô Bắc")
    far = await user_row(app, "n")
    for user in ("mem", "cb"):
        client = await signed_in(clients, chat, user)
        token = await csrf_of(client)
        data = {"csrf": token, "user": str(far.id), "household": "Nhà lạ"}
        assert (await client.post("/quan-ly/nguoi-dan/ho", data=data)).status == 404
        for path in ("/quan-ly/xuat/bao-cao-xa", "/quan-ly/xuat/bao-cao-xa.csv"):
            assert (await client.get(f"{path}?to={north.id}")).status == 404
        html = await (await client.get("/quan-ly/xuat/bao-cao-xa")).text()
        assert "Thôn Bắc" not in html
    async with app.db.transaction() as session:
        row = await session.get(TeamMembership, far.id)
        assert row is not None and row.household is None
