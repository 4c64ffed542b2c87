"""The scam check's admin tools: trolyso scamcheck, scamcheck --jsonl and eval-scam."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.test_answers_cli import write_config


def test_jsonl_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        json.dumps({"text": "Vietcombank: TK cua QK bi khoa, vao vcb-vn.top de mo khoa"}),
        json.dumps({"text": "Ma OTP 123456. Khong chia se ma nay cho ai."}, ensure_ascii=False),
        "",
        "not json",
        json.dumps(["text"]),
        json.dumps({"text": "Đọc giúp em mã OTP vừa gửi nhé"}, ensure_ascii=False),
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["--config", str(write_config(tmp_path)), "scamcheck", "--jsonl"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(out) == 5, "one line out per non-empty line in"
    assert out[0]["scam"] is True and set(out[0]) == {"scam", "reasons"}
    assert any("vcb-vn.top" in reason for reason in out[0]["reasons"])
    assert out[1] == {"scam": False, "reasons": []}
    assert "error" in out[2] and "error" in out[3]
    assert out[4]["scam"] is True
    assert out[4]["reasons"][0].startswith("Đòi mã OTP")  # Vietnamese, as the citizen reads it


def test_scamcheck_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(write_config(tmp_path))
    assert main(["--config", config, "scamcheck", "vao msb.vn-ms.top nhan qua"]) == 0
    out = capsys.readouterr().out
    assert "CÓ DẤU HIỆU LỪA ĐẢO" in out and "lookalike" in out and "msb.vn-ms.top" in out
    assert main(["--config", config, "scamcheck"]) == 2


def test_eval_scam_scores_a_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus.yaml"
    corpus.write_text(
        "messages:\n"
        "  - {text: 'Vao vcb-vn.top xac thuc ngay', scam: true, kind: bank_phishing}\n"
        "  - {text: 'Chao ban, hom nay troi dep', scam: true, kind: missed}\n"
        "  - {text: 'Ma OTP 123456, khong chia se cho ai', scam: false, kind: bank_otp}\n"
        "  - {text: 'Ban da trung thuong, xem tai bit.ly/x', scam: false, kind: odd_legit}\n"
        "  - {text: 42}\n",
        encoding="utf-8",
    )
    code = main(["--config", str(write_config(tmp_path)), "eval-scam", str(corpus)])
    captured = capsys.readouterr()
    assert code == 1, "a broken entry is reported"
    assert "messages[5]" in captured.err
    out = captured.out
    assert "scams flagged:       50.0%  (1/2)" in out
    assert "legitimate flagged:  50.0%  (1/2)" in out
    assert "MISSED SCAM [missed]" in out and "FALSE ALARM [odd_legit]" in out
    assert "bank_phishing" in out
