"""A report as a CSV of citizens x skills, for spreadsheets."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from bot.reports.build import VIETNAM, Report, display_name

if TYPE_CHECKING:
    from bot.content.snapshot import Snapshot


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_bytes(report: Report, snapshot: Snapshot) -> bytes:
    """Citizens x skills as CSV (UTF-8 with BOM, so spreadsheets show Vietnamese correctly)."""
    messages = snapshot.messages
    skills = sorted(snapshot.lessons.skills, key=lambda s: (s.job == 0, s.job))
    out = io.StringIO()
    writer = csv.writer(out)
    header = [messages("followup.csv_name"), messages("followup.csv_channel")]
    if report.team is None:
        header.append(messages("followup.csv_team"))
    header += [messages("followup.csv_joined"), messages("followup.csv_basic")]
    header += [f"{s.title} ({s.id})" for s in skills]
    writer.writerow(header)
    for row in sorted(report.rows, key=lambda r: (display_name(r.user, messages), r.user.id)):
        cells = [_cell(display_name(row.user, messages)), row.user.channel]
        if report.team is None:
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
        writer.writerow(cells)
    return out.getvalue().encode("utf-8-sig")
