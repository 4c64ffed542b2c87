"""Scoring the matcher on a labelled file (``trolyso eval``, tests/test_eval.py).

The file has ``questions: [{q, expected: <entry id or null>, style}]``. A question with an
expected entry counts as right only when that entry is answered directly; a question expected to
fall back (``null``, out of scope) counts as right only when the bot falls back. Asking back is
reported apart: it is not a wrong answer, but it is not a right one either.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bot.content.sections import Reader
from bot.content.yamlio import LineDict
from bot.nlp.matcher import ANSWER, ASK, FALLBACK, Index, Match


@dataclass(frozen=True)
class Labelled:
    """One labelled question."""

    q: str
    expected: str | None
    style: str
    line: int = 0


@dataclass(frozen=True)
class Outcome:
    """What the matcher did with a labelled question."""

    item: Labelled
    match: Match

    @property
    def correct(self) -> bool:
        """Answered the expected entry, or fell back when nothing was expected."""
        if self.item.expected is None:
            return self.match.outcome == FALLBACK
        return self.match.outcome == ANSWER and self.match.entry_id == self.item.expected

    @property
    def wrong_answer(self) -> bool:
        """Answered directly with an entry that was not the expected one."""
        return self.match.outcome == ANSWER and self.match.entry_id != self.item.expected

    @property
    def asked_with_right_choice(self) -> bool:
        """Asked back, and the expected entry was among the choices."""
        return self.match.outcome == ASK and self.item.expected in self.match.choices


@dataclass
class Tally:
    """Right / total."""

    right: int = 0
    total: int = 0

    def add(self, correct: bool) -> None:
        """Count one question."""
        self.total += 1
        self.right += int(correct)

    @property
    def rate(self) -> float:
        """Share right, 0..1."""
        return self.right / self.total if self.total else 0.0


@dataclass
class Report:
    """Accuracy overall, per style and per expected entry, and the misses."""

    outcomes: list[Outcome] = field(default_factory=list)
    overall: Tally = field(default_factory=Tally)
    styles: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    entries: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))

    @property
    def misses(self) -> list[Outcome]:
        """Questions not handled right."""
        return [o for o in self.outcomes if not o.correct]

    @property
    def out_of_scope_answered(self) -> list[Outcome]:
        """Out-of-scope questions the bot answered directly (must be none)."""
        return [o for o in self.outcomes if o.item.expected is None and o.wrong_answer]

    @property
    def wrong_answers(self) -> list[Outcome]:
        """Direct answers with the wrong entry (in scope or not)."""
        return [o for o in self.outcomes if o.wrong_answer]

    @property
    def asked_back(self) -> list[Outcome]:
        """Questions that got an ask-back."""
        return [o for o in self.outcomes if o.match.outcome == ASK]


def load_labelled(path: Path) -> tuple[list[Labelled], list[str]]:
    """The labelled questions of a file, and problems found in it (``file:line: ...``)."""
    reader = Reader(path.parent)
    data = reader.load(path)
    items = reader.sequence(path, data, "questions") if data is not None else None
    out: list[Labelled] = []
    for index, item in enumerate(items or []):
        where = f"questions[{index + 1}]"
        if not isinstance(item, LineDict):
            reader.problem(path, items.line_of(index) if items else None, where, "must be a map")
            continue
        q = reader.text(path, item, "q", where)
        style = reader.text(path, item, "style", where, required=False) or "unspecified"
        expected = item.get("expected")
        if expected is not None and not isinstance(expected, str):
            reader.problem(path, item.line_of("expected"), f"{where}.expected", "id or null")
            continue
        if q:
            out.append(Labelled(q=q, expected=expected, style=style, line=item.line))
    return out, [str(p) for p in reader.problems]


def evaluate(index: Index, questions: list[Labelled]) -> Report:
    """Run every question through the matcher and tally the results."""
    report = Report()
    for item in questions:
        outcome = Outcome(item, index.search(item.q))
        report.outcomes.append(outcome)
        report.overall.add(outcome.correct)
        report.styles[item.style].add(outcome.correct)
        report.entries[item.expected or "(out of scope)"].add(outcome.correct)
    return report


def describe(match: Match) -> str:
    """A one-line summary of a match."""
    if match.outcome == ANSWER:
        return f"answer {match.entry_id} ({match.score:.2f})"
    if match.outcome == ASK:
        return f"ask back {', '.join(match.choices)} ({match.score:.2f})"
    return f"fall back ({match.score:.2f})"


def format_report(report: Report, *, misses: bool = True) -> str:
    """The report as text for the terminal."""
    lines = [
        f"overall: {report.overall.rate:.1%} ({report.overall.right}/{report.overall.total})",
        "per style:",
    ]
    for style, tally in sorted(report.styles.items()):
        lines.append(f"  {style:<16} {tally.rate:6.1%} ({tally.right}/{tally.total})")
    asked = report.asked_back
    right_choice = sum(o.asked_with_right_choice for o in asked)
    lines.append(
        f"asked back: {len(asked)} (right entry among the choices: {right_choice}); "
        f"wrong direct answers: {len(report.wrong_answers)}; "
        f"out of scope answered directly: {len(report.out_of_scope_answered)}"
    )
    lines.append("per entry:")
    for entry_id, tally in sorted(report.entries.items()):
        lines.append(f"  {entry_id:<32} {tally.right}/{tally.total}")
    if misses and report.misses:
        lines.append("misses:")
        for outcome in report.misses:
            expected = outcome.item.expected or "(fall back)"
            lines.append(
                f"  [{outcome.item.style}] {outcome.item.q}\n"
                f"      expected {expected}; got {describe(outcome.match)}"
            )
    return "\n".join(lines)


__all__ = ["ANSWER", "ASK", "FALLBACK", "Labelled", "Outcome", "Report", "evaluate"]
