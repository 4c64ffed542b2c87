"""The matcher on the labelled set (tests/eval/questions.yaml, written apart from the content):
at least 94.5% right overall (the issue asks 93%), at least 90% in every style, and no
out-of-scope question answered.

A question with an expected entry is right only when that entry is answered directly; an
out-of-scope one only when the bot falls back. The same figures come from
``trolyso eval tests/eval/questions.yaml``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.content.snapshot import load_snapshot
from bot.nlp.evaluation import Report, evaluate, format_report, load_labelled

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests" / "eval" / "questions.yaml"
STYLES = {"accented", "no_diacritics", "teencode", "typos", "out_of_scope"}


@pytest.fixture(scope="module")
def report() -> Report:
    snapshot = load_snapshot(ROOT / "content")
    questions, problems = load_labelled(LABELLED)
    assert problems == []
    return evaluate(snapshot.index, questions)


def test_the_set_covers_every_topic_in_four_styles(report: Report) -> None:
    snapshot = load_snapshot(ROOT / "content")
    counts: dict[str, set[str]] = {}
    for outcome in report.outcomes:
        if outcome.item.expected is not None:
            assert snapshot.entry(outcome.item.expected) is not None, outcome.item
            counts.setdefault(outcome.item.expected, set()).add(outcome.item.style)
    # Every entry but the 14 added on 2026-12-02 (a fresh set written apart measures those).
    assert set(counts) <= {e.id for e in snapshot.knowledge}
    assert len(counts) >= 56
    assert all(styles == STYLES - {"out_of_scope"} for styles in counts.values())
    assert report.styles["out_of_scope"].total >= 50


def test_overall_accuracy_floor(report: Report) -> None:
    assert report.overall.rate >= 0.945, format_report(report)


def test_every_style_floor(report: Report) -> None:
    assert set(report.styles) == STYLES
    for style, tally in report.styles.items():
        assert tally.rate >= 0.90, (style, format_report(report))


def test_no_out_of_scope_question_is_answered(report: Report) -> None:
    assert report.out_of_scope_answered == [], format_report(report)


SCORES = """
import json, sys
from pathlib import Path
from bot.content.snapshot import load_snapshot
from bot.nlp.evaluation import load_labelled
index = load_snapshot(Path("content")).index
questions, _ = load_labelled(Path("tests/eval/questions.yaml"))
print(json.dumps([[(r.entry_id, r.bm25, r.whole) for r in index.search(q.q).ranked]
                  for q in questions]))
"""


def test_the_same_question_scores_the_same_in_every_process() -> None:
    """Sets iterate in a per-process order (hash seeds): no score may depend on it."""
    runs = [
        subprocess.run(
            [sys.executable, "-c", SCORES],
            cwd=ROOT,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    ]
    assert runs[0] and runs[0] == runs[1] == runs[2]


def test_the_tuning_sets_keep_their_floors() -> None:
    """real_questions.yaml, unseen_questions.yaml and unseen3_questions.yaml became tuning sets
    (issue 15): they may not fall back below what was reached on them; the hard out-of-scope
    probes may not get more direct answers than before."""
    index = load_snapshot(ROOT / "content").index
    real, problems = load_labelled(ROOT / "tests" / "eval" / "real_questions.yaml")
    assert problems == []
    report = evaluate(index, real)
    assert report.overall.rate >= 0.955, format_report(report)
    assert all(t.rate >= 0.90 for t in report.styles.values()), format_report(report)
    assert report.out_of_scope_answered == [], format_report(report)
    # unseen_questions.yaml became a tuning set too (session 4, 2026-12-03).
    unseen, problems = load_labelled(ROOT / "tests" / "eval" / "unseen_questions.yaml")
    assert problems == []
    report = evaluate(index, unseen)
    assert report.overall.rate >= 0.915, format_report(report)
    assert len(report.out_of_scope_answered) <= 1, format_report(report)
    # unseen3_questions.yaml (set 3) became a tuning set in session 5 (2026-12-04).
    third, problems = load_labelled(ROOT / "tests" / "eval" / "unseen3_questions.yaml")
    assert problems == []
    report = evaluate(index, third)
    assert report.overall.rate >= 0.92, format_report(report)
    assert report.styles["chatty"].rate >= 0.85, format_report(report)
    assert len(report.out_of_scope_answered) <= 2, format_report(report)
    near, problems = load_labelled(ROOT / "tests" / "eval" / "near_out_of_scope.yaml")
    assert problems == []
    assert len(evaluate(index, near).out_of_scope_answered) <= 3
