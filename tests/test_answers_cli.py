"""The admin tools: trolyso validate, ask, ask --jsonl, eval and unanswered."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from bot.cli import main
from storage.db import Database
from storage.migrate import upgrade
from storage.models import User
from storage.repos.answers import AnswerRepo

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"


def write_config(tmp_path: Path, content: Path = CONTENT) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  url: sqlite+aiosqlite:///{tmp_path / 'cli.db'}\n"
        f"content:\n  dir: {content}\n  watch: false\n",
        encoding="utf-8",
    )
    return config


def test_validate_ok_and_broken(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    assert main(["--config", str(config), "validate"]) == 0
    assert "70 mục hỏi đáp (70 có các bước)" in capsys.readouterr().out

    broken = tmp_path / "content"
    shutil.copytree(CONTENT, broken)
    path = broken / "knowledge" / "basics.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("related: [phone_basic_controls,", "related: [khong_co,", 1), "utf-8"
    )
    assert main(["--config", str(config), "validate", "--content", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "Nội dung có 1 lỗi" in out
    assert "content/knowledge/basics.yaml:" in out and "khong_co" in out


def test_ask_explains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    assert main(["--config", str(config), "ask", "quen mk vneid thi lam sao"]) == 0
    out = capsys.readouterr().out
    assert "normalised: quen mat khau vneid thi lam sao" in out
    assert "decision: ANSWER vneid_reset_password" in out
    assert "vneid_reset_password" in out.split("top entries", 1)[1]


def test_ask_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path)
    questions = "quên mật khẩu VNeID\n\nvneid\nTối nay Việt Nam đá bóng với ai?\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(questions))
    assert main(["--config", str(config), "ask", "--jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    rows = [json.loads(line) for line in lines]
    for row in rows:
        assert set(row) == {"q", "answer_id", "suggestions", "score"}
        assert isinstance(row["score"], float)
    assert rows[0] == {**rows[0], "q": "quên mật khẩu VNeID", "answer_id": "vneid_reset_password"}
    assert rows[0]["suggestions"] == []
    assert rows[1]["answer_id"] is None and 2 <= len(rows[1]["suggestions"]) <= 3
    assert rows[2]["answer_id"] is None and rows[2]["suggestions"] == []


def test_eval_prints_accuracy_per_style_and_misses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labelled = tmp_path / "labelled.yaml"
    labelled.write_text(
        "questions:\n"
        "  - {q: quên mật khẩu VNeID, expected: vneid_reset_password, style: accented}\n"
        "  - {q: quen mk vneid, expected: vneid_reset_password, style: teencode}\n"
        "  - {q: thời tiết ngày mai, expected: null, style: out_of_scope}\n"
        "  - {q: quên mật khẩu VNeID, expected: otp_what_is, style: accented}\n",
        encoding="utf-8",
    )
    config = write_config(tmp_path)
    assert main(["--config", str(config), "eval", str(labelled)]) == 0
    out = capsys.readouterr().out
    assert "overall: 75.0% (3/4)" in out
    assert "accented" in out and "50.0% (1/2)" in out
    assert "teencode" in out and "out_of_scope" in out
    assert "expected otp_what_is; got answer vneid_reset_password" in out


def test_unanswered_exports_fallbacks_and_thumbs_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def seed() -> None:
        await upgrade(url)
        db = Database(url)
        try:
            async with db.transaction() as session:
                user = User(channel="zalo", external_id="z1")
                session.add(user)
                await session.flush()
                repo = AnswerRepo(session)
                await repo.log(
                    user_id=user.id,
                    channel="zalo",
                    text="giá vàng hôm nay",
                    normalised="gia vang hom nay",
                    outcome="fallback",
                    entry_id=None,
                )
                liked = await repo.log(
                    user_id=user.id,
                    channel="zalo",
                    text="quên mật khẩu VNeID",
                    normalised="quen mat khau vneid",
                    outcome="answer",
                    entry_id="vneid_reset_password",
                    score=2.0,
                )
                await session.flush()  # the row gets its id
                await repo.feedback(liked.id, user.id, True)
                disliked = await repo.log(
                    user_id=user.id,
                    channel="zalo",
                    text="chuyển nhầm tiền",
                    normalised="chuyen nham tien",
                    outcome="answer",
                    entry_id="bank_wrong_transfer",
                    score=1.5,
                )
                await session.flush()
                await repo.feedback(disliked.id, user.id, False)
        finally:
            await db.dispose()

    asyncio.run(seed())
    out = tmp_path / "unanswered.csv"
    assert main(["--config", str(config), "unanswered", "--out", str(out)]) == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows[0][:4] == ["id", "created_at", "channel", "question"]
    assert [r[3] for r in rows[1:]] == ["giá vàng hôm nay", "chuyển nhầm tiền"]
    assert rows[2][5:7] == ["answer", "bank_wrong_transfer"] and rows[2][-1] == "down"
    assert main(["--config", str(config), "unanswered", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == [",".join(rows[0])]
    assert main(["--config", str(config), "unanswered", "--since", "yesterday"]) == 2
