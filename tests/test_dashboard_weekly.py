"""The overview's completions per week: through the bot and in person, per team, and per village
for a commune official; an SVG chart with the same numbers in a table."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.app import App
from bot.channels.memory import MemoryChannel
from bot.dashboard.overview import recent_weeks, week_label
from bot.reports.build import week_of
from storage.models import SkillCompletion
from storage.repos.teams import ProgressRepo
from tests.test_dashboard import MakeClient, citizen_of, clients, signed_in
from tests.test_teams import make_member, make_team, user_row

__all__ = ["clients"]  # the fixture, shared with test_dashboard

ROW = re.compile(r"<tr><th scope=\"row\">([^<]+)</th>((?:<td>\d+</td>)+)</tr>")


def _table(html: str, table_id: str) -> dict[str, list[int]]:
    """The rows of one table: the row heading -> its numbers."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return {
        head: [int(n) for n in re.findall(r"<td>(\d+)</td>", cells)]
        for head, cells in ROW.findall(body)
    }


async def _passed(app: App, user: str, skill: str, at: datetime) -> None:
    row = await user_row(app, user)
    async with app.db.transaction() as session:
        session.add(
            SkillCompletion(
                user_id=row.id,
                skill_id=skill,
                channel=row.channel,
                best_score=1.0,
                first_passed_at=at,
                last_passed_at=at,
            )
        )


async def _guided(app: App, user: str, skill: str, at: datetime, team_id: int) -> None:
    row = await user_row(app, user)
    async with app.db.transaction() as session:
        await ProgressRepo(session).guide(row.id, skill, team_id, None, at)


def test_weeks_start_on_monday_in_vietnam() -> None:
    sunday_night = datetime(2026, 3, 8, 16, 30, tzinfo=UTC)  # 23:30 Sunday in Hanoi
    monday_early = datetime(2026, 3, 8, 17, 30, tzinfo=UTC)  # 00:30 Monday in Hanoi
    assert week_of(sunday_night).isoformat() == "2026-03-02"
    assert week_of(monday_early).isoformat() == "2026-03-09"
    weeks = recent_weeks(monday_early)
    assert len(weeks) == 8 and weeks[-1] == week_of(monday_early)
    assert week_label(weeks[0]) == "19/01"


async def test_a_team_sees_its_weeks_bot_and_in_person(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    east, west = await make_team(app, "Thôn Đông"), await make_team(app, "Thôn Tây")
    await make_member(app, chat, "mem", east)
    for user in ("a", "b"):
        await citizen_of(app, chat, user, east, f"Bà {user}")
    await citizen_of(app, chat, "w", west, "Ông Tây")
    now = app.services.clock()
    this_week, last_week, long_ago = now, now - timedelta(weeks=1), now - timedelta(weeks=20)
    await _passed(app, "a", "dvc_basic", this_week)
    await _passed(app, "b", "dvc_basic", this_week)
    await _guided(app, "a", "vneid_setup", this_week, east.id)
    await _guided(app, "b", "vneid_setup", last_week, east.id)
    await _passed(app, "a", "sk_spot_phishing", long_ago)  # older than the chart
    await _passed(app, "w", "dvc_basic", this_week)  # another team's
    client = await signed_in(clients, chat, "mem")
    html = await (await client.get("/quan-ly/")).text()
    weeks = _table(html, "weeks")
    assert list(weeks) == [week_label(w) for w in recent_weeks(now)]
    this, last = week_label(week_of(this_week)), week_label(week_of(last_week))
    assert weeks[this] == [2, 1, 3]  # through the bot, in person, both
    assert weeks[last] == [0, 1, 1]
    assert sum(sum(v) for k, v in weeks.items() if k not in (this, last)) == 0
    chart = html.split('class="chart weekly"', 1)[0].rsplit("<svg", 1)[1]
    assert f"{this}: 3" in chart and f"{last}: 1" in chart  # the label says the numbers
    assert "<script" not in html and "style=" not in html  # the CSP allows neither


async def test_a_commune_official_sees_each_villages_weeks(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    east = await make_team(app, "Thôn Đông", "Xã Tân Hòa")
    west = await make_team(app, "Thôn Tây", "Xã Tân Hòa")
    north = await make_team(app, "Thôn Bắc", "Xã An Phú")
    await make_member(app, chat, "cb", east, role="commune")
    for user, team in (("e", east), ("w", west), ("n", north)):
        await citizen_of(app, chat, user, team, user)
    now = app.services.clock()
    await _passed(app, "e", "dvc_basic", now)
    await _guided(app, "w", "dvc_basic", now, west.id)
    await _guided(app, "w", "vneid_setup", now - timedelta(weeks=2), west.id)
    await _passed(app, "n", "dvc_basic", now)
    client = await signed_in(clients, chat, "cb")
    html = await (await client.get("/quan-ly/")).text()
    villages = _table(html, "village-weeks")
    assert list(villages) == ["Thôn Đông", "Thôn Tây"]  # not another commune's
    assert villages["Thôn Đông"][-3:] == [1, 1, 0]  # this week; through the bot; in person
    assert villages["Thôn Tây"][-3:] == [1, 0, 2]
    assert villages["Thôn Tây"][-5] == 1  # two weeks ago
    assert _table(html, "weeks")[week_label(week_of(now))] == [1, 1, 2]
