"""Scam-check tools: ``trolyso scamcheck`` and ``trolyso eval-scam``.

- ``scamcheck "tin nhắn"`` shows the signs the bot finds in one message and its verdict.
  ``scamcheck --jsonl`` reads one JSON object per line on stdin, ``{"text": "..."}``, and writes
  one per line, ``{"scam": true|false, "reasons": ["..."]}``: the reasons are the citizen-facing
  sentences of the signs found (none when the verdict is not a scam). A line that is not such an
  object gets ``{"error": "..."}`` so that the output stays line for line.
- ``eval-scam FILE.yaml`` scores a labelled file (``messages: [{text, scam, kind}]``): scams
  flagged, legitimate messages flagged, per kind, and the misses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Config

if TYPE_CHECKING:
    from bot.scamcheck import ScamRules


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``scamcheck`` and ``eval-scam``."""
    one = sub.add_parser("scamcheck", help="show the scam signs the bot finds in a message")
    one.add_argument("text", nargs="?", help="the message, in quotes")
    one.add_argument(
        "--jsonl", action="store_true", help='read {"text": ...} lines on stdin, write verdicts'
    )
    one.add_argument("--content", type=Path, help="content folder (default from config)")
    one.set_defaults(handler=scamcheck_command)

    score = sub.add_parser("eval-scam", help="score the scam check on a labelled corpus")
    score.add_argument("file", type=Path, help="YAML with messages: [{text, scam, kind}]")
    score.add_argument("--content", type=Path, help="content folder (default from config)")
    score.add_argument("--no-misses", action="store_true", help="don't list the misses")
    score.set_defaults(handler=eval_scam_command)


def _rules(config: Config, args: argparse.Namespace) -> ScamRules | None:
    from bot.commands.content import load_or_report

    folder: Path | None = getattr(args, "content", None)
    snapshot = load_or_report(folder or config.path(config.content.dir), sys.stderr)
    return snapshot.scam if snapshot is not None else None


def jsonl_line(raw: str, rules: ScamRules) -> str:
    """One output line of ``scamcheck --jsonl`` for one input line."""
    from bot.scamcheck import check

    try:
        data: Any = json.loads(raw)
    except ValueError:
        return json.dumps({"error": "not JSON"}, ensure_ascii=False)
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return json.dumps({"error": 'expected {"text": "..."}'}, ensure_ascii=False)
    verdict = check(data["text"], rules)
    return json.dumps({"scam": verdict.scam, "reasons": verdict.reasons}, ensure_ascii=False)


def scamcheck_command(config: Config, args: argparse.Namespace) -> int:
    """Check one message, or every JSON line of stdin."""
    from bot.scamcheck import check

    rules = _rules(config, args)
    if rules is None:
        return 1
    if args.jsonl:
        for raw in sys.stdin:
            if raw.strip():
                print(jsonl_line(raw, rules), flush=False)
        sys.stdout.flush()
        return 0
    if not args.text:
        print('usage: trolyso scamcheck "tin nhắn"  (or --jsonl on stdin)', file=sys.stderr)
        return 2
    verdict = check(args.text, rules)
    print("Kết luận: CÓ DẤU HIỆU LỪA ĐẢO" if verdict.scam else "Kết luận: chưa thấy đủ dấu hiệu")
    for found in verdict.found:
        print(f"  [{'mạnh' if found.strong else 'yếu '}] {found.id}: {found.text}")
    for link in verdict.links:
        print(f"  link: {link.text} (tên miền {link.host})")
    return 0


def eval_scam_command(config: Config, args: argparse.Namespace) -> int:
    """Score the scam check on a labelled file."""
    from bot.scamcheck.evaluation import evaluate, format_report, load_corpus

    rules = _rules(config, args)
    if rules is None:
        return 1
    if not args.file.is_file():
        print(f"no such file: {args.file}", file=sys.stderr)
        return 2
    messages, problems = load_corpus(args.file)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(format_report(evaluate(rules, messages), misses=not args.no_misses))
    return 1 if problems else 0
