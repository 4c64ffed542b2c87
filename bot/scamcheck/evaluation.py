"""Scoring the scam check on a labelled corpus (``messages: [{text, scam, kind}]``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.scamcheck.checker import Verdict, check
from bot.scamcheck.rules import ScamRules


@dataclass(frozen=True)
class Labelled:
    """One message of the corpus."""

    text: str
    scam: bool
    kind: str


@dataclass
class Report:
    """The scores: flagged counts overall and per kind, and the messages judged wrongly."""

    scams: int = 0
    scams_flagged: int = 0
    legit: int = 0
    legit_flagged: int = 0
    flags_without_reason: int = 0
    per_kind: dict[tuple[str, bool], list[int]] = field(default_factory=dict)  # [flagged, total]
    misses: list[tuple[Labelled, Verdict]] = field(default_factory=list)

    @property
    def scam_rate(self) -> float:
        """Share of scams flagged."""
        return self.scams_flagged / self.scams if self.scams else 0.0

    @property
    def false_rate(self) -> float:
        """Share of legitimate messages flagged."""
        return self.legit_flagged / self.legit if self.legit else 0.0


def load_corpus(path: Path) -> tuple[list[Labelled], list[str]]:
    """The labelled messages of a YAML file, and a line per entry that could not be read."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return [], [f"{path}: expected messages: [{{text, scam, kind}}]"]
    messages: list[Labelled] = []
    problems: list[str] = []
    for index, item in enumerate(items, start=1):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("text"), str)
            or not isinstance(item.get("scam"), bool)
        ):
            problems.append(f"{path}: messages[{index}]: needs text (string) and scam (true/false)")
            continue
        kind = item.get("kind")
        messages.append(Labelled(item["text"], item["scam"], str(kind) if kind else "-"))
    return messages, problems


def evaluate(rules: ScamRules, messages: list[Labelled]) -> Report:
    """Check every message and count."""
    report = Report()
    per_kind: dict[tuple[str, bool], list[int]] = defaultdict(lambda: [0, 0])
    for message in messages:
        verdict = check(message.text, rules)
        counts = per_kind[(message.kind, message.scam)]
        counts[1] += 1
        if verdict.scam:
            counts[0] += 1
            if not verdict.reasons:
                report.flags_without_reason += 1
        if message.scam:
            report.scams += 1
            report.scams_flagged += verdict.scam
        else:
            report.legit += 1
            report.legit_flagged += verdict.scam
        if verdict.scam != message.scam:
            report.misses.append((message, verdict))
    report.per_kind = dict(per_kind)
    return report


def format_report(report: Report, *, misses: bool = True) -> str:
    """The report as admins read it."""
    lines = [
        f"scams flagged:      {report.scam_rate:6.1%}  ({report.scams_flagged}/{report.scams})",
        f"legitimate flagged: {report.false_rate:6.1%}  ({report.legit_flagged}/{report.legit})",
        f"flags without a reason: {report.flags_without_reason}",
        "per kind (flagged/total):",
    ]
    for (kind, scam), (flagged, total) in sorted(report.per_kind.items()):
        label = "scam" if scam else "legit"
        lines.append(f"  {label:<5} {kind:<28} {flagged:>4}/{total:<4} {flagged / total:6.1%}")
    if misses and report.misses:
        lines.append("misses:")
        for message, verdict in report.misses:
            what = "MISSED SCAM" if message.scam else "FALSE ALARM"
            signs = ", ".join(f.id for f in verdict.found) or "no sign"
            text = " ".join(message.text.split())
            lines.append(f"  {what} [{message.kind}] ({signs}) {text[:160]}")
    return "\n".join(lines)
