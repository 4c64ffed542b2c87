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
