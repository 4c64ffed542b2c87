"""Bar charts as inline SVG: plain shapes and text, readable on a phone, no script, no style."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

BAR = 22  # height of one bar
GAP = 8
LABEL = 18  # height of the label line above each bar
WIDTH = 480


@dataclass(frozen=True)
class Bar:
    """One bar: a label, the value, and the part of it done in person."""

    label: str
    value: int
    guided: int = 0


def bar_chart(bars: list[Bar], title: str, legend: tuple[str, str]) -> Markup:
    """A horizontal bar chart (bot in blue, in person in green) with the numbers written out."""
    top = max((b.value for b in bars), default=0) or 1
    span = WIDTH - 50
    row = LABEL + BAR + GAP
    height = 30 + len(bars) * row + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f'<text x="0" y="16" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    for index, bar in enumerate(bars):
        y = 30 + index * row + LABEL
        bot = bar.value - bar.guided
        bot_w = span * bot / top
        guided_w = span * bar.guided / top
        parts.append(f'<text x="0" y="{y - 4}" font-size="13">{escape(_short(bar.label))}</text>')
        parts.append(f'<rect x="0" y="{y}" width="{bot_w:.1f}" height="{BAR}" fill="#1565c0"/>')
        parts.append(
            f'<rect x="{bot_w:.1f}" y="{y}" width="{guided_w:.1f}" height="{BAR}" fill="#2e7d32"/>'
        )
        parts.append(
            f'<text x="{bot_w + guided_w + 6:.1f}" y="{y + 16}" font-size="13">{bar.value}</text>'
        )
    y = height - 8
    parts.append(f'<rect x="0" y="{y - 11}" width="12" height="12" fill="#1565c0"/>')
    parts.append(f'<text x="18" y="{y}" font-size="12">{escape(legend[0])}</text>')
    parts.append(f'<rect x="160" y="{y - 11}" width="12" height="12" fill="#2e7d32"/>')
    parts.append(f'<text x="178" y="{y}" font-size="12">{escape(legend[1])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(label: str, limit: int = 60) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


@dataclass(frozen=True)
class Column:
    """One week: its label, completions through the bot and guided in person."""

    label: str
    bot: int
    guided: int

    @property
    def total(self) -> int:
        """Both together."""
        return self.bot + self.guided


COLUMN_WIDTH = 42  # one week's slot in the weekly chart
WEEK_HEIGHT = 150  # the tallest column


def week_chart(columns: list[Column], title: str, legend: tuple[str, str]) -> Markup:
    """A column chart, one column per week (bot in blue under in person in green), each total
    written above its column. Narrow (8 weeks fit 360 units), so text stays large on a phone."""
    width = max(360, COLUMN_WIDTH * len(columns) + 12)
    top = max((c.total for c in columns), default=0) or 1
    base = 40 + WEEK_HEIGHT
    height = base + 50
    summary = ", ".join(f"{c.label}: {c.total}" for c in columns)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}. {escape(summary)}" class="chart weekly">',
        f'<text x="0" y="16" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#999" stroke-width="1"/>',
    ]
    for index, column in enumerate(columns):
        x = 6 + index * COLUMN_WIDTH
        bot_h = WEEK_HEIGHT * column.bot / top
        guided_h = WEEK_HEIGHT * column.guided / top
        bar = COLUMN_WIDTH - 12
        parts.append(
            f'<rect x="{x}" y="{base - bot_h:.1f}" width="{bar}" height="{bot_h:.1f}" '
            'fill="#1565c0"/>'
        )
        parts.append(
            f'<rect x="{x}" y="{base - bot_h - guided_h:.1f}" width="{bar}" '
            f'height="{guided_h:.1f}" fill="#2e7d32"/>'
        )
        middle = x + bar / 2
        parts.append(
            f'<text x="{middle:.1f}" y="{base - bot_h - guided_h - 5:.1f}" font-size="13" '
            f'text-anchor="middle">{column.total}</text>'
        )
        parts.append(
            f'<text x="{middle:.1f}" y="{base + 16}" font-size="12" '
            f'text-anchor="middle">{escape(column.label)}</text>'
        )
    y = height - 8
    parts.append(f'<rect x="0" y="{y - 11}" width="12" height="12" fill="#1565c0"/>')
    parts.append(f'<text x="18" y="{y}" font-size="13">{escape(legend[0])}</text>')
    parts.append(f'<rect x="150" y="{y - 11}" width="12" height="12" fill="#2e7d32"/>')
    parts.append(f'<text x="168" y="{y}" font-size="13">{escape(legend[1])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
