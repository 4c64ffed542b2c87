"""A report as a CSV of citizens x skills, for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bot.reports.build import VIETNAM, Report, display_name

if TYPE_CHECKING:
    from bot.content.lessons import Skill
    from bot.content.snapshot import Snapshot


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _skills(snapshot: Snapshot) -> list[Skill]:
    return sorted(snapshot.lessons.skills, key=lambda s: (s.job == 0, s.job))


def csv_header(snapshot: Snapshot, *, with_team: bool) -> list[str]:
    """The CSV's first row (a team column in reports over several teams)."""
    messages = snapshot.messages
    header = [messages("followup.csv_name"), messages("followup.csv_channel")]
    if with_team:
        header.append(messages("followup.csv_team"))
    header += [messages("followup.csv_joined"), messages("followup.csv_basic")]
    skills = [f"{s.title} ({s.id})" for s in _skills(snapshot)]
    return header + skills + [messages("followup.csv_reminded"), messages("notes.csv")]


def csv_rows(report: Report, snapshot: Snapshot, *, with_team: bool) -> Iterator[list[str]]:
    """One row per citizen of the report, by name."""
    messages = snapshot.messages
    skills = _skills(snapshot)
    for row in sorted(report.rows, key=lambda r: (display_name(r.user, messages), r.user.id)):
        cells = [_cell(display_name(row.user, messages)), row.user.channel]
        if with_team:
            cells.append(_cell(row.team.name) if row.team else "")
        cells.append(row.joined_at.astimezone(VIETNAM).strftime("%d/%m/%Y"))
        cells.append(messages("followup.csv_yes" if row.basic_five else "followup.csv_no"))
        for skill in skills:
            if skill.id in row.passed:
                cells.append(
                    messages("followup.csv_passed", score=round(100 * row.passed[skill.id]))
                )
            elif skill.id in row.guided:
                cells.append(messages("followup.csv_guided"))
            elif skill.id in row.learning:
                cells.append(messages("followup.csv_learning"))
            elif skill.id in row.failed:
                cells.append(messages("followup.csv_failed"))
            else:
                cells.append("")
        cells.append(str(row.reminded))
        cells.append(_cell(row.note))
        yield cells


def csv_bytes(report: Report, snapshot: Snapshot) -> bytes:
    """Citizens x skills as CSV (UTF-8 with BOM, so spreadsheets show Vietnamese correctly)."""
    out = io.StringIO()
    writer = csv.writer(out)
    with_team = report.team is None
    writer.writerow(csv_header(snapshot, with_team=with_team))
    writer.writerows(csv_rows(report, snapshot, with_team=with_team))
    return out.getvalue().encode("utf-8-sig")
