"""A report as a bar chart (PNG) of completions per skill, grouped by job."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from bot.reports.build import Report
from bot.reports.fonts import load_font
from bot.reports.text import team_title

if TYPE_CHECKING:
    from bot.config import Config
    from bot.content.snapshot import Snapshot


def chart_png(report: Report, snapshot: Snapshot, config: Config) -> bytes:
    """A bar chart of completions per skill (through the bot, and in person), grouped by job."""
    from PIL import Image, ImageDraw

    messages = snapshot.messages
    title_font = load_font(config, 30, bold=True)
    group_font = load_font(config, 22, bold=True)
    font = load_font(config, 20)
    groups = [
        (g, snapshot.lessons.by_group(g.id))
        for g in sorted(snapshot.groups, key=lambda g: (g.job == 0, g.job))
    ]
    groups = [(g, s) for g, s in groups if s]
    width, left, right, row_h = 1400, 560, 90, 40
    height = 150 + sum(48 + row_h * len(s) for _, s in groups) + 30
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    blue, orange, grey = (37, 99, 235), (234, 138, 0), (60, 60, 60)
    draw.text(
        (30, 24),
        messages("followup.chart_title", team=team_title(report.team, messages)),
        font=title_font,
        fill="black",
    )
    legend_y = 78
    for x, colour, key in (
        (30, blue, "followup.chart_legend_bot"),
        (420, orange, "followup.chart_legend_guided"),
    ):
        draw.rectangle((x, legend_y + 4, x + 24, legend_y + 24), fill=colour)
        draw.text((x + 34, legend_y), messages(key), font=font, fill=grey)
    top = max(
        [1, *(report.bot.get(s.id, 0) + report.guided.get(s.id, 0) for _, ss in groups for s in ss)]
    )
    scale = (width - left - right) / top
    y = 130
    for group, skills in groups:
        label = (
            messages("followup.summary_job", job=group.job, group=group.title)
            if group.job
            else messages("followup.chart_basics")
        )
        draw.text((30, y + 12), label, font=group_font, fill="black")
        y += 48
        for skill in skills:
            title = skill.title
            while font.getlength(title) > left - 70 and len(title) > 4:
                title = title[:-2].rstrip() + "…"
            draw.text((50, y + 8), title, font=font, fill=grey)
            bot, guided = report.bot.get(skill.id, 0), report.guided.get(skill.id, 0)
            x0 = float(left)
            if bot:
                draw.rectangle((x0, y + 6, x0 + bot * scale, y + row_h - 6), fill=blue)
                x0 += bot * scale
            if guided:
                draw.rectangle((x0, y + 6, x0 + guided * scale, y + row_h - 6), fill=orange)
                x0 += guided * scale
            draw.text((x0 + 10, y + 8), str(bot + guided), font=font, fill="black")
            y += row_h
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
