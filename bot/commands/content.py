"""Content tools for admins: ``trolyso validate``, ``ask``, ``eval`` and ``unanswered``.

- ``validate`` checks every content file and prints each problem as ``file:line: field: message``
  (the same messages ``trolyso run`` and the admin ``/reload`` command give).
- ``ask "câu hỏi"`` shows what the bot would do with a question and why: the normalised words,
  corrections, and the top entries with their scores. ``ask --jsonl`` reads one question per
  line on stdin and writes one JSON object per line:
  ``{"q": "…", "answer_id": "<id or null>", "suggestions": ["<id>", …], "score": <float>}``.
- ``eval FILE.yaml`` scores a labelled file (``questions: [{q, expected, style}]``): accuracy
  overall, per style and per entry, and the misses.
- ``unanswered`` exports the questions that fell back or got a thumbs down, as CSV.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.config import Config

if TYPE_CHECKING:
    from bot.content.snapshot import Snapshot
    from bot.nlp.matcher import Match


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``validate``, ``ask``, ``eval`` and ``unanswered``."""
    validate = sub.add_parser("validate", help="kiểm tra các tệp nội dung (báo lỗi theo tệp:dòng)")
    validate.add_argument("--content", type=Path, help="thư mục nội dung (mặc định theo config)")
    validate.set_defaults(handler=validate_command)

    ask = sub.add_parser("ask", help="xem bot sẽ trả lời một câu hỏi thế nào, và vì sao")
    ask.add_argument("question", nargs="?", help="câu hỏi, đặt trong dấu ngoặc kép")
    ask.add_argument("--jsonl", action="store_true", help="đọc câu hỏi từ stdin, mỗi dòng một JSON")
    ask.add_argument("--content", type=Path, help="thư mục nội dung (mặc định theo config)")
    ask.set_defaults(handler=ask_command)

    evaluate = sub.add_parser("eval", help="chấm bộ so khớp trên một tệp câu hỏi có đáp án")
    evaluate.add_argument("file", type=Path, help="YAML có questions: [{q, expected, style}]")
    evaluate.add_argument("--content", type=Path, help="thư mục nội dung (mặc định theo config)")
    evaluate.add_argument("--no-misses", action="store_true", help="không liệt kê các câu sai")
    evaluate.set_defaults(handler=eval_command)

    unanswered = sub.add_parser(
        "unanswered", help="xuất các câu bot chưa trả lời được hoặc bị bấm 👎 (CSV)"
    )
    unanswered.add_argument("--since", help="chỉ các câu từ ngày này (YYYY-MM-DD)")
    unanswered.add_argument("--out", type=Path, help="tệp CSV để ghi (mặc định: in ra màn hình)")
    unanswered.set_defaults(handler=unanswered_command)


def _content_dir(config: Config, args: argparse.Namespace) -> Path:
    folder: Path | None = getattr(args, "content", None)
    return folder if folder is not None else config.path(config.content.dir)


def load_or_report(folder: Path, out: TextIO) -> Snapshot | None:
    """The content, or None after printing every problem (as start-up and /reload do)."""
    from bot.content.problems import ContentError
    from bot.content.snapshot import load_snapshot

    try:
        return load_snapshot(folder)
    except ContentError as exc:
        print(f"Nội dung có {len(exc.problems)} lỗi:", file=out)
        for problem in exc.problems:
            print(f"  {problem}", file=out)
        return None


def validate_command(config: Config, args: argparse.Namespace) -> int:
    """Check the content; exit 1 when anything is wrong."""
    snapshot = load_or_report(_content_dir(config, args), sys.stdout)
    if snapshot is None:
        return 1
    print(
        f"Nội dung hợp lệ: {len(snapshot.knowledge)} mục hỏi đáp "
        f"({sum(1 for e in snapshot.knowledge if e.details)} có các bước), "
        f"{len(snapshot.lessons.skills)} bài học, {len(snapshot.teencode.words)} từ viết tắt, "
        f"{len(snapshot.messages.texts)} câu chữ "
        f"(dựng bộ so khớp trong {snapshot.index.build_seconds * 1000:.0f} ms)"
    )
    return 0


def explain(match: Match, snapshot: Snapshot) -> str:
    """A human explanation of a match, for ``trolyso ask``."""
    from bot.nlp.matcher import ANSWER, ASK, OUTSIDE

    settings = snapshot.index.settings
    lines = [f"normalised: {match.normalised or '(nothing left)'}"]
    if match.corrected:
        lines.append("corrected: " + ", ".join(f"{a} → {b}" for a, b in match.corrected))
    if match.unknown:
        lines.append("unknown words: " + ", ".join(match.unknown))
    if match.outcome == ANSWER:
        decision = f"ANSWER {match.entry_id}"
    elif match.outcome == ASK:
        decision = "ASK BACK with " + ", ".join(match.choices)
    elif match.ranked and match.ranked[0].entry_id.startswith(OUTSIDE):
        decision = f"FALL BACK: closest to {match.ranked[0].entry_id} (content/out_of_scope.yaml)"
    else:
        decision = "FALL BACK (menu and team contact)"
    lines.append(
        f"decision: {decision}  (confidence {match.score:.3f}; answers from "
        f"{settings.answer_at}, asks back from {settings.ask_at})"
    )
    lines.append(
        "top entries (bm25 = share of the best possible BM25; whole = cosine with the entry):"
    )
    for scored in match.ranked:
        lines.append(
            f"  {scored.entry_id:<36} bm25 {scored.bm25:5.3f}  whole {scored.whole:5.3f}  "
            f"confidence {scored.confidence:5.2f}  ~ {scored.best_question}"
        )
    lines.append(f"({match.seconds * 1000:.2f} ms)")
    return "\n".join(lines)


def jsonl_line(question: str, match: Match) -> str:
    """One output line of ``ask --jsonl``."""
    return json.dumps(
        {
            "q": question,
            "answer_id": match.entry_id,
            "suggestions": list(match.choices),
            "score": round(match.score, 4),
        },
        ensure_ascii=False,
    )


def ask_command(config: Config, args: argparse.Namespace) -> int:
    """Show what the bot would do with one question, or with every line of stdin."""
    snapshot = load_or_report(_content_dir(config, args), sys.stderr)
    if snapshot is None:
        return 1
    index = snapshot.index
    if args.jsonl:
        for raw in sys.stdin:
            question = raw.rstrip("\r\n")
            if not question.strip():
                continue
            print(jsonl_line(question, index.search(question)), flush=False)
        sys.stdout.flush()
        return 0
    if not args.question:
        print('cách dùng: trolyso ask "câu hỏi"  (hoặc --jsonl, câu hỏi từ stdin)', file=sys.stderr)
        return 2
    print(explain(index.search(args.question, explain=True), snapshot))
    return 0


def eval_command(config: Config, args: argparse.Namespace) -> int:
    """Score the matcher on a labelled file."""
    from bot.nlp.evaluation import evaluate, format_report, load_labelled

    snapshot = load_or_report(_content_dir(config, args), sys.stderr)
    if snapshot is None:
        return 1
    if not args.file.is_file():
        print(f"không có tệp: {args.file}", file=sys.stderr)
        return 2
    questions, problems = load_labelled(args.file)
    for problem in problems:
        print(problem, file=sys.stderr)
    unknown = sorted(
        {q.expected for q in questions if q.expected and snapshot.entry(q.expected) is None}
    )
    if unknown:
        print("các mã đáp án không có trong nội dung: " + ", ".join(unknown), file=sys.stderr)
    report = evaluate(snapshot.index, questions)
    print(format_report(report, misses=not args.no_misses))
    return 1 if problems else 0


CSV_FIELDS = (
    "id",
    "created_at",
    "channel",
    "question",
    "normalised",
    "outcome",
    "entry_id",
    "choices",
    "score",
    "feedback",
)


async def unanswered_rows(config: Config, since: datetime | None) -> list[list[str]]:
    """The rows of ``trolyso unanswered``."""
    from bot.commands.db import session_for
    from storage.repos.answers import AnswerRepo

    async with session_for(config) as session:
        logged = await AnswerRepo(session).unanswered(since)
        return [
            [
                str(row.id),
                row.created_at.isoformat(timespec="seconds"),
                row.channel,
                row.text,
                row.normalised,
                row.outcome,
                row.entry_id or "",
                " ".join(str(c) for c in row.choices),
                f"{row.score:.3f}",
                row.feedback or "",
            ]
            for row in logged
        ]


def unanswered_command(config: Config, args: argparse.Namespace) -> int:
    """Write the unanswered questions as CSV."""
    since = None
    if args.since:
        try:
            since = datetime.strptime(args.since, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            print("--since phải có dạng 2025-01-31", file=sys.stderr)
            return 2
    rows = asyncio.run(unanswered_rows(config, since))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    writer.writerows(rows)
    if args.out:
        args.out.write_text(buffer.getvalue(), encoding="utf-8-sig")  # BOM: Excel reads UTF-8
        print(f"Đã ghi {len(rows)} câu hỏi vào {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(buffer.getvalue())
    return 0
