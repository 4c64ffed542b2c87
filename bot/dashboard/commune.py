"""The commune report per village, to forward upward: citizens, citizens with the five basic
skills, households recorded and households with at least one member who has them (the
movement's target, CV 3240/BTTTT-CĐSQG: "mỗi hộ gia đình có ít nhất 01 người thành thạo 05 kỹ
năng số cơ bản"), completions per skill. As CSV and as a printable page.

A household is what team members recorded: an optional short label per citizen (``TeamRepo.
set_household``); labels that match without marks, case and spaces are one household of the
village. Citizens without a label are counted as citizens, not as households.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.dashboard.auth import SERVICES, viewer_of
from bot.dashboard.views import page_context
from bot.reports.build import Report, build_report
from storage.models import Team
from storage.repos.teams import household_key, sort_key


@dataclass(frozen=True)
class Village:
    """One line of the commune report."""

    team: Team
    citizens: int
    basic: int
    households: int
    households_basic: int
    unrecorded: int  # citizens with no household label
    skills: list[int]


def village_line(report: Report, skill_ids: list[str]) -> Village:
    """The commune report's line of one team's report."""
    assert report.team is not None
    reached: dict[str, bool] = {}
    unrecorded = 0
    for row in report.rows:
        key = household_key(row.user.household)
        if not key:
            unrecorded += 1
            continue
        reached[key] = reached.get(key, False) or row.basic_five
    return Village(
        team=report.team,
        citizens=report.citizens,
        basic=report.basic_five,
        households=len(reached),
        households_basic=sum(reached.values()),
        unrecorded=unrecorded,
        skills=[report.bot.get(s, 0) + report.guided.get(s, 0) for s in skill_ids],
    )


async def _villages(request: web.Request) -> tuple[list[Village], list[str]]:
    """The lines of the teams in view (one team when ``?to=`` names one), and skill titles."""
    viewer = viewer_of(request)
    wanted = request.query.get("to")
    team = viewer.team(wanted)
    teams = [team] if team is not None else list(viewer.teams)
    services = request.app[SERVICES]
    snapshot = services.store.current
    skills = sorted(snapshot.lessons.skills, key=lambda s: (s.job == 0, s.job))
    ids = [s.id for s in skills]
    lines = []
    async with services.db.transaction() as session:
        for t in teams:
            report = await build_report(
                session, snapshot, t, services.clock(), services.config.teams.stuck_days
            )
            lines.append(village_line(report, ids))
    lines.sort(key=lambda v: (sort_key(v.team.commune), sort_key(v.team.village), v.team.id))
    return lines, [s.title for s in skills]


async def export_commune(request: web.Request) -> web.StreamResponse:
    """The commune report as CSV (opens in Excel: UTF-8 with a byte order mark)."""
    lines, titles = await _villages(request)
    messages = request.app[SERVICES].store.current.messages
    out = io.StringIO()
    writer = csv.writer(out)
    keys = ("commune", "village", "team", "citizens", "basic", "households", "households_basic")
    writer.writerow([*(messages(f"dashboard.csv_{k}") for k in keys), *titles])
    for v in lines:
        place = [v.team.commune, v.team.village, v.team.name]
        writer.writerow([*place, v.citizens, v.basic, v.households, v.households_basic, *v.skills])
    writer.writerow([messages("dashboard.csv_households_note")])
    return web.Response(
        body=out.getvalue().encode("utf-8-sig"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="bao-cao-xa.csv"'},
    )


@aiohttp_jinja2.template("commune_report.html")
async def commune_page(request: web.Request) -> dict[str, Any]:
    """The commune report as a page to print (or save as PDF) and forward."""
    lines, titles = await _villages(request)
    viewer = viewer_of(request)
    team = viewer.team(request.query.get("to"))
    totals = {
        key: sum(getattr(v, key) for v in lines)
        for key in ("citizens", "basic", "households", "households_basic", "unrecorded")
    }
    communes = sorted({v.team.commune for v in lines}, key=sort_key)
    return page_context(
        request,
        page="exports",
        team=team,
        lines=lines,
        titles=titles,
        totals=totals,
        communes=communes,
        today=request.app[SERVICES].clock(),
    )


def routes() -> list[web.RouteDef]:
    """The commune report's routes."""
    return [
        web.get("/xuat/bao-cao-xa.csv", export_commune),
        web.get("/xuat/bao-cao-xa", commune_page),
    ]
