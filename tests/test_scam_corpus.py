"""The floors of issue 20 on the labelled corpus (tests/eval/scam_corpus.yaml, written by others).

At least 95% of scams flagged, at most 3% of legitimate messages flagged, every flag with a reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.content.snapshot import load_snapshot
from bot.scamcheck.evaluation import evaluate, load_corpus
from tests.test_answers_cli import write_config

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "eval" / "scam_corpus.yaml"


def test_corpus_floors() -> None:
    messages, problems = load_corpus(CORPUS)
    assert problems == []
    assert len(messages) >= 300
    report = evaluate(load_snapshot(ROOT / "content").scam, messages)
    assert report.scam_rate >= 0.95, f"scams flagged {report.scam_rate:.1%}"
    assert report.false_rate <= 0.03, f"legitimate flagged {report.false_rate:.1%}"
    assert report.flags_without_reason == 0
    for message, verdict in report.misses:
        assert not verdict.scam or verdict.reasons, message.text


def test_eval_scam_prints_the_corpus_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(write_config(tmp_path)), "eval-scam", str(CORPUS)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scams flagged:") and "legitimate flagged:" in out
