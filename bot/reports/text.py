"""A report as chat text: the summary and the list of who needs help."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.reports.build import Report, display_name

if TYPE_CHECKING:
    from bot.content.messages import Messages
    from bot.content.snapshot import Snapshot
    from storage.models import Team


def team_title(team: Team | None, messages: Messages) -> str:
    """How a report names its scope."""
    return team.name if team is not None else messages("followup.all_scope")


def contact_lines(team: Team, messages: Messages) -> list[str]:
    """The team's contact as lines (phone or Zalo, meeting place, hours), the set ones only."""
    values = (("phone", team.phone), ("place", team.place), ("hours", team.hours))
    return [messages(f"teams.contact_{field}", **{field: v}) for field, v in values if v]


def summary_text(report: Report, snapshot: Snapshot) -> str:
    """The summary: citizens, five basic skills reached, completions per skill by job."""
    messages = snapshot.messages
    lines = [
        messages(
            "followup.summary",
            team=team_title(report.team, messages),
            citizens=report.citizens,
            basic=report.basic_five,
        )
    ]
    if report.deleted:
        lines.append(messages("followup.summary_deleted", count=report.deleted))
    lines.append("")
    lines.append(messages("followup.summary_skills"))
    shown = len(lines)
    for group in sorted(snapshot.groups, key=lambda g: (g.job == 0, g.job)):
        done = [
            skill
            for skill in snapshot.lessons.by_group(group.id)
            if report.bot.get(skill.id, 0) + report.guided.get(skill.id, 0)
        ]
        if not done:
            continue  # no lines of zeros
        key = "followup.summary_job" if group.job else "followup.summary_basics"
        lines.append(messages(key, job=group.job, group=group.title))
        for skill in done:
            bot, guided = report.bot.get(skill.id, 0), report.guided.get(skill.id, 0)
            lines.append(
                messages(
                    "followup.summary_skill",
                    skill=skill.title,
                    total=bot + guided,
                    bot=bot,
                    guided=guided,
                )
            )
    if len(lines) == shown:
        lines.append(messages("followup.summary_nobody"))
    if report.reminders:
        lines.append("")
        lines.append(
            messages("followup.summary_reminders", sent=report.reminders, resumed=report.resumed)
        )
    return "\n".join(lines)


def stuck_lines(report: Report, messages: Messages, limit: int | None = None) -> list[str]:
    """One line per stuck citizen and skill, and the team's note under a citizen's first."""
    lines = []
    noted: set[int] = set()
    for item in report.stuck[:limit]:
        values: dict[str, Any] = {
            "name": display_name(item.row.user, messages),
            "skill": item.skill.title,
            "idle": item.idle_days,
            "step": item.step,
            "steps": item.steps,
            "correct": item.correct,
            "total": item.total,
        }
        lines.append(messages(f"followup.stuck_{item.kind}", **values))
        if item.row.note and item.row.user.id not in noted:
            noted.add(item.row.user.id)
            lines.append(messages("notes.line", note=item.row.note))
    return lines


def stuck_text(report: Report, messages: Messages, days: int, limit: int | None = None) -> str:
    """The list of who needs help."""
    head = messages("followup.stuck_title", team=team_title(report.team, messages), days=days)
    if not report.stuck:
        return f"{head}\n{messages('followup.stuck_none')}"
    lines = [head, *stuck_lines(report, messages, limit)]
    if limit is not None and len(report.stuck) > limit:
        lines.append(messages("followup.stuck_more", count=len(report.stuck) - limit))
    return "\n".join(lines)
