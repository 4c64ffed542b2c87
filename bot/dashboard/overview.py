"""What the overview page shows: totals, completions per skill and per week (through the bot
and in person), one line per village; built from ``bot.reports`` (no query of its own: the
weekly counts come with the report's records, so the page costs what the report costs)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.dashboard.charts import Bar, Column, bar_chart, week_chart
from bot.dashboard.render import environment
from bot.reports.build import Report, build_report, week_of
from storage.models import Team

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.content.snapshot import Snapshot

WEEKS = 8  # weeks in the weekly chart, this one included


def recent_weeks(now: datetime, weeks: int = WEEKS) -> list[date]:
    """The Mondays of the last ``weeks`` weeks, oldest first, this week last."""
    this = week_of(now)
    return [this - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def week_label(monday: date) -> str:
    """A week as its Monday, "dd/mm"."""
    return monday.strftime("%d/%m")


def _weekly(reports: list[Report], weeks: list[date]) -> list[dict[str, Any]]:
    """Per week: its label and the completions of ``reports`` through the bot and in person."""
    out = []
    for week in weeks:
        bot = sum(r.weekly.get(week, (0, 0))[0] for r in reports)
        guided = sum(r.weekly.get(week, (0, 0))[1] for r in reports)
        out.append({"label": week_label(week), "bot": bot, "guided": guided})
    return out


def _village(report: Report, weeks: list[date]) -> dict[str, Any]:
    """One village's line: citizens, five basic skills, who needs help, its weeks."""
    weekly = _weekly([report], weeks)
    return {
        "team": report.team,
        "citizens": len(report.rows),
        "basic": report.basic_five,
        "stuck": len({s.row.user.id for s in report.stuck}),
        "weeks": [w["bot"] + w["guided"] for w in weekly],
        "bot": sum(w["bot"] for w in weekly),
        "guided": sum(w["guided"] for w in weekly),
    }


async def overview_values(
    session: AsyncSession, snapshot: Snapshot, teams: list[Team], now: datetime, stuck_days: int
) -> dict[str, Any]:
    """What the overview shows of ``teams``: totals, the charts, one line per village."""
    reports = [await build_report(session, snapshot, t, now, stuck_days) for t in teams]
    skills = sorted(snapshot.lessons.skills, key=lambda s: (s.job == 0, s.job))
    bars = []
    for skill in skills:
        bot = sum(r.bot.get(skill.id, 0) for r in reports)
        guided = sum(r.guided.get(skill.id, 0) for r in reports)
        bars.append(Bar(skill.title, bot + guided, guided))
    weeks = recent_weeks(now)
    weekly = _weekly(reports, weeks)
    messages = snapshot.messages
    legend = (messages("dashboard.chart_bot"), messages("dashboard.chart_guided"))
    return {
        "citizens": sum(len(r.rows) for r in reports),
        "basic": sum(r.basic_five for r in reports),
        "deleted": sum(r.deleted for r in reports),
        "reminders": sum(r.reminders for r in reports),
        "resumed": sum(r.resumed for r in reports),
        "villages": [_village(r, weeks) for r in reports],
        "chart": bar_chart(bars, messages("dashboard.chart_title"), legend),
        "weekly": weekly,
        "week_labels": [w["label"] for w in weekly],
        "week_chart": week_chart(
            [Column(w["label"], w["bot"], w["guided"]) for w in weekly],
            messages("dashboard.chart_weeks", weeks=len(weeks)),
            legend,
        ),
    }


async def overview_html(
    session: AsyncSession,
    snapshot: Snapshot,
    teams: list[Team],
    team: Team | None,
    now: datetime,
    stuck_days: int,
) -> str:
    """The overview page as HTML, without a server (the scale bench times it)."""
    values = await overview_values(session, snapshot, teams, now, stuck_days)
    page = environment().get_template("overview.html")
    return page.render(viewer=None, page="overview", team=team, **values)
