"""Measure the matcher's constants without looking at the labelled test set.

The labelled set (tests/eval/questions.yaml) only measures; tuning uses other data:

- the knowledge base's own example questions, cross-validated: the entries are rebuilt without
  a quarter of their questions, which are then asked as typed, without marks, in teencode
  (through the reverse of the dictionary) and with typos (a dropped, doubled or swapped letter,
  a Telex leftover, a wrong tone);
- out-of-scope questions written for tuning (tests/eval/tuning_out_of_scope.yaml), which must
  never get a direct answer;
- chit-chat and filler ("cho hỏi", "cảm ơn", "a") that must not get an answer either;
- synthetic variants of the held-out questions in the ways people really ask: ``chatty`` (a
  personal preamble and a thank-you around the question, the out-of-scope ones too) and
  ``voice`` (no punctuation, product names spelled as speech-to-text writes them, from
  content/sound_alikes.yaml).

    .venv/bin/python bench/tune.py                       # the current Settings
    .venv/bin/python bench/tune.py --grid answer_at=0.7,0.75,0.8 ask_at=0.5,0.55
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import sys
from collections import Counter
from dataclasses import fields, replace
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.content.snapshot import load_snapshot  # noqa: E402
from bot.core.text import strip_marks  # noqa: E402
from bot.nlp.matcher import ANSWER, ASK, FALLBACK, Index, Match  # noqa: E402
from bot.nlp.settings import Settings  # noqa: E402
from bot.nlp.syllables import place_tone, split_tone  # noqa: E402

CHITCHAT = [
    "a", "aaaa", "có", "không", "làm sao", "giúp tôi với", "cho hỏi", "alo alo", "hello", "ok",
    "cảm ơn", "test", "abc xyz", "dạ vâng", "tôi muốn hỏi", "cho em hỏi chút", "bạn ơi",
    "bạn là ai", "hihi", "em chào anh", "tôi không biết", "có không", "được không", "thế nào",
    "sao vậy", "rồi sao nữa", "vâng ạ", "bạn tên gì", "chán quá", "xin chào bác", "hả",
    "gì vậy", "tôi già rồi", "để tôi xem", "chờ chút", "ăn cơm chưa", "ngủ ngon",
]  # fmt: skip
TEENCODE = [
    ("như thế nào", "ntn"), ("không", "k"), ("được", "dc"), ("gì", "j"), ("điện thoại", "dt"),
    ("tài khoản", "tk"), ("chuyển khoản", "ck"), ("mật khẩu", "mk"), ("người", "ng"),
    ("với", "vs"), ("biết", "bik"), ("làm", "lm"), ("rồi", "r"), ("vậy", "z"), ("cũng", "cx"),
    ("nữa", "nx"), ("ứng dụng", "app"), ("mình", "mik"),
]  # fmt: skip
TELEX = {1: "s", 2: "f", 3: "r", 4: "x", 5: "j"}
STYLES = ("typed", "no_marks", "teencode", "typos", "chatty", "voice")
PREAMBLES = [
    "bác ơi cho cháu hỏi", "hôm qua tôi đi chợ về", "dạ em chào anh chị, em muốn hỏi",
    "tôi năm nay 70 tuổi rồi, mắt kém, con cái đi làm xa cả", "nhờ cô chú chỉ giúp",
    "sáng nay bà hàng xóm bảo tôi là", "cháu ơi bà hỏi cái này tí",
    "chả là thế này, hôm trước đi bán heo ở chợ huyện về", "con gái tôi đi làm trên tỉnh nên",
    "mình ở quê không rành mấy cái này lắm", "tôi già rồi không biết gì về điện thoại",
    "chào bạn, cho mình hỏi", "ông nhà tôi mới mất, giờ còn mình tôi",
    "thưa cán bộ, tôi là nông dân trồng lúa", "em bán tạp hóa ở đầu làng",
]  # fmt: skip
SUFFIXES = [
    "cảm ơn nhiều nhé", "giúp tôi với", "chỉ giúp bác với nha", "mong được trả lời sớm",
    "cám ơn cháu", "tôi lo quá", "khổ thân tôi quá", "", "", "nhé",
]  # fmt: skip


def chatty(text: str, rnd: random.Random) -> str:
    return f"{rnd.choice(PREAMBLES)} {text.rstrip('?.!')} {rnd.choice(SUFFIXES)}".strip()


def voice(text: str, rnd: random.Random, sounds: dict[str, list[str]]) -> str:
    out = re.sub(r"[^\w\s]", " ", text.lower())
    for term, spellings in sounds.items():
        pattern = re.compile(rf"\b{re.escape(term.lower())}\b")
        while pattern.search(out):
            out = pattern.sub(rnd.choice(spellings), out, count=1)
    return " ".join(out.split())


def teencode(text: str, rnd: random.Random) -> str:
    out = text.lower()
    for full, short in TEENCODE:
        if rnd.random() < 0.8:
            out = re.sub(rf"\b{full}\b", short, out)
    return strip_marks(out)


def typos(text: str, rnd: random.Random) -> str:
    parts = text.split()
    candidates = [i for i, w in enumerate(parts) if len(w) >= 3 and w.isalpha()]
    for i in rnd.sample(candidates, min(len(candidates), 2)):
        word = parts[i]
        base, tone = split_tone(word.lower())
        kind = rnd.randrange(5)
        if kind == 0 and tone:
            parts[i] = base + TELEX[tone]  # Telex leftover
        elif kind == 1:
            parts[i] = place_tone(base, rnd.choice([t for t in range(6) if t != tone]))
        else:
            j = rnd.randrange(len(word) - 1)
            parts[i] = [
                word[:j] + word[j + 1 :],
                word[:j] + word[j] + word[j:],
                word[:j] + word[j + 1] + word[j] + word[j + 2 :],
            ][kind - 2]
    return " ".join(parts)


def cross_validate(snapshot, settings: Settings, folds: int = 4, seed: int = 1):  # type: ignore[no-untyped-def]
    """(expected id, style, match) for every held-out example question and its variants."""
    rnd = random.Random(seed)
    sounds: dict[str, list[str]] = {}
    for spelling, term in snapshot.sound_alikes.spellings.items():
        if len(spelling) > 1:
            sounds.setdefault(" ".join(term), []).append(" ".join(spelling))
    rows: list[tuple[str, str, Match]] = []
    for fold in range(folds):
        train, test = [], []
        for entry in snapshot.knowledge:
            keep = tuple(q for i, q in enumerate(entry.questions) if i % folds != fold)
            test += [(entry.id, q) for i, q in enumerate(entry.questions) if i % folds == fold]
            train.append(replace(entry, questions=keep))
        index = Index.build(
            train, snapshot.teencode, settings, snapshot.out_of_scope, snapshot.sound_alikes
        )
        for entry_id, question in test:
            rows.append((entry_id, "chatty", index.search(chatty(question, rnd))))
            rows.append((entry_id, "voice", index.search(voice(question, rnd, sounds))))
            rows.append((entry_id, "typed", index.search(question)))
            if strip_marks(question) != question:
                rows.append((entry_id, "no_marks", index.search(strip_marks(question))))
                rows.append((entry_id, "typos", index.search(typos(question, rnd))))
            rows.append((entry_id, "teencode", index.search(teencode(question, rnd))))
    return rows


def measure(snapshot, settings: Settings, out_of_scope: list[str]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The figures for one set of constants."""
    rows = cross_validate(snapshot, settings)
    right: Counter[str] = Counter()
    top1: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for expected, style, match in rows:
        total[style] += 1
        right[style] += match.outcome == ANSWER and match.entry_id == expected
        top1[style] += bool(match.ranked) and match.ranked[0].entry_id == expected
    index = Index.build(
        snapshot.knowledge,
        snapshot.teencode,
        settings,
        snapshot.out_of_scope,
        snapshot.sound_alikes,
    )
    oos = [index.search(q) for q in out_of_scope]
    rnd = random.Random(3)
    oos_chatty = [index.search(chatty(q, rnd)) for q in out_of_scope]
    chat = [index.search(q) for q in CHITCHAT]
    figures = {f"cv {s}": right[s] / total[s] for s in STYLES}
    figures["cv mean"] = sum(figures[f"cv {s}"] for s in STYLES) / len(STYLES)
    figures["cv top-1"] = sum(top1.values()) / sum(total.values())
    figures["oos fall back"] = sum(m.outcome == FALLBACK for m in oos) / len(oos)
    figures["oos answered"] = sum(m.outcome == ANSWER for m in oos)
    figures["oos max confidence"] = max(m.score for m in oos)
    figures["oos chatty answered"] = sum(m.outcome == ANSWER for m in oos_chatty)
    figures["chit-chat answered"] = sum(m.outcome == ANSWER for m in chat)
    figures["chit-chat asked"] = sum(m.outcome == ASK for m in chat)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", nargs="*", default=[], help="name=v1,v2 ... (Settings fields)")
    args = parser.parse_args()
    snapshot = load_snapshot(ROOT / "content")
    data = yaml.safe_load((ROOT / "tests/eval/tuning_out_of_scope.yaml").read_text("utf-8"))
    out_of_scope = list(data["questions"])
    types = {f.name: f.type for f in fields(Settings)}
    axes = []
    for item in args.grid:
        name, _, values = item.partition("=")
        if name not in types:
            parser.error(f"unknown setting {name}")
        cast = int if "int" in str(types[name]) else float
        axes.append([(name, cast(v)) for v in values.split(",")])
    for combo in itertools.product(*axes) if axes else [()]:
        settings = replace(Settings(), **dict(combo))
        figures = measure(snapshot, settings, out_of_scope)
        label = " ".join(f"{k}={v}" for k, v in combo) or "current settings"
        print(label)
        print("  " + "  ".join(f"{k}: {v:.3f}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
