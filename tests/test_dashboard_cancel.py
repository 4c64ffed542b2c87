"""Cancelling a broadcast from the dashboard: a confirmation, then the report says "đã hủy"
with its counts; only for broadcasts of the viewer's teams; CSRF checked."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.app import App
from bot.channels.memory import MemoryChannel
from storage.repos.broadcasts import Audience, BroadcastRepo
from tests.broadcast_helpers import tally
from tests.test_dashboard import MakeClient, citizen_of, clients, csrf_of, signed_in
from tests.test_teams import make_member, make_team

__all__ = ["clients"]  # the fixture, shared with test_dashboard


async def _scheduled(app: App, team_id: int | None, title: str = "Họp thôn") -> int:
    """A broadcast to a team, scheduled for tomorrow."""
    now = app.services.clock()
    async with app.db.transaction() as session:
        made = await BroadcastRepo(session).create(
            Audience(team_id=team_id),
            kind="announcement",
            title=title,
            body=f"{title} tối mai.",
            scheduled_at=now + timedelta(days=1),
            created_by=None,
            now=now,
        )
        return made.id


async def test_a_member_cancels_a_scheduled_broadcast(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    await citizen_of(app, chat, "c1", team, "Bà Một")
    await citizen_of(app, chat, "c2", team, "Ông Hai")
    bid = await _scheduled(app, team.id)
    client = await signed_in(clients, chat, "mem")
    page = await (await client.get("/quan-ly/thong-bao")).text()
    assert "Hủy tin này" in page and "đang gửi hoặc chờ gửi" in page
    token = await csrf_of(client, "/quan-ly/thong-bao")
    ask = await client.post("/quan-ly/thong-bao/huy", data={"csrf": token, "broadcast": str(bid)})
    asked = await ask.text()
    assert ask.status == 200 and "Hủy tin “Họp thôn”?" in asked
    assert re.search(r"<b>2</b> người chưa nhận", asked)
    assert await tally(app.db, bid) == {"pending": 2}  # asking changed nothing
    data = {"csrf": token, "broadcast": str(bid), "confirm": "1"}
    done = await client.post("/quan-ly/thong-bao/huy", data=data)
    report = await done.text()
    assert done.status == 200 and 'id="cancelled"' in report
    section = report.split(f'id="tin-{bid}"', 1)[1].split("</section>", 1)[0]
    assert "đã hủy" in section and "2 tin chưa gửi thì bị hủy" in section
    assert "Hủy tin này" not in section
    assert await tally(app.db, bid) == {"skipped": 2, "skipped:cancelled": 2}
    again = await client.post("/quan-ly/thong-bao/huy", data=data)
    assert "đã gửi xong hoặc đã hủy từ trước" in await again.text()


async def test_only_broadcasts_of_the_viewers_teams_can_be_cancelled(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    east = await make_team(app, "Thôn Đông", "Xã Tân Hòa")
    west = await make_team(app, "Thôn Tây", "Xã Tân Hòa")
    north = await make_team(app, "Thôn Bắc", "Xã An Phú")
    for user, team in (("c1", east), ("c2", west), ("c3", north)):
        await citizen_of(app, chat, user, team, user)
    await make_member(app, chat, "mem_e", east)
    await make_member(app, chat, "cb", east, role="commune")
    west_b, north_b, all_b = (
        await _scheduled(app, west.id),
        await _scheduled(app, north.id),
        await _scheduled(app, None),
    )
    member = await signed_in(clients, chat, "mem_e")
    official = await signed_in(clients, chat, "cb")
    for client, refused in ((member, (west_b, north_b, all_b)), (official, (north_b, all_b))):
        token = await csrf_of(client)
        for bid in refused:
            for confirm in ("", "1"):
                data = {"csrf": token, "broadcast": str(bid), "confirm": confirm}
                response = await client.post("/quan-ly/thong-bao/huy", data=data)
                assert response.status == 404, bid
        for junk in ("", "x", "99999"):
            response = await client.post(
                "/quan-ly/thong-bao/huy", data={"csrf": token, "broadcast": junk, "confirm": "1"}
            )
            assert response.status == 404
    # Without the CSRF token nothing happens
    response = await official.post(
        "/quan-ly/thong-bao/huy", data={"broadcast": str(west_b), "confirm": "1"}
    )
    assert response.status == 403
    for bid in (west_b, north_b, all_b):
        assert await tally(app.db, bid) == {"pending": 1 if bid != all_b else 3}
    # The commune official may stop a broadcast of another village of their commune
    token = await csrf_of(official)
    data = {"csrf": token, "broadcast": str(west_b), "confirm": "1"}
    assert (await official.post("/quan-ly/thong-bao/huy", data=data)).status == 200
    assert await tally(app.db, west_b) == {"skipped": 1, "skipped:cancelled": 1}
