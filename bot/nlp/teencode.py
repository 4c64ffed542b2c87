"""The teencode and abbreviation dictionary (``content/teencode.yaml``), kept by admins.

``words`` maps what people type to what they mean. A key written without marks ("ko", "dc")
matches the word typed without marks; a key with marks ("hông", "đc") matches only that exact
spelling, so "hỏng" is never read as "không". A list of meanings marks an ambiguous word ("mk":
mình or mật khẩu); the matcher keeps the meaning that fits the neighbouring words. ``fillers``
are words that carry no meaning in a question ("ơi", "ạ") and are dropped. ``context`` words
(kinship, politeness, time: "bà", "cháu", "hôm qua") are kept but weigh little, so a long,
chatty question is as sure as its short form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.content.sections import Reader
from bot.content.yamlio import LineDict, LineList, duplicate_keys
from bot.core.text import nfc

FILE = "teencode.yaml"
_WORD = re.compile(r"^[^\W_]+$")
MAX_MEANINGS = 4


@dataclass(frozen=True)
class Teencode:
    """Abbreviation → meanings (in full Vietnamese), and the filler words to drop."""

    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fillers: frozenset[str] = frozenset()
    context: frozenset[str] = frozenset()  # words that say little about a question's topic

    def meanings(self, word: str) -> tuple[str, ...] | None:
        """The meanings of ``word`` (lower case, NFC) exactly as typed, if it is a key."""
        return self.words.get(word)


def _key(raw: object) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, (str, int)) or raw in ("True", "False"):
        return None  # YAML read yes/no/on/off as true/false
    key = nfc(str(raw)).strip().lower()
    return key if _WORD.match(key) else None


def load_teencode(reader: Reader) -> Teencode:
    """Read ``teencode.yaml`` (optional); every problem names its line."""
    path = reader.root / FILE
    if not path.exists():
        return Teencode()
    for twice_line, twice in duplicate_keys(path):
        reader.problem(path, twice_line, twice, "từ này được viết hai lần; chỉ giữ một lần")
    data = reader.load(path)
    if data is None:
        return Teencode()
    words = _read_words(reader, path, reader.mapping(path, data, "words"))
    fillers = _word_list(reader, path, data, "fillers", words)
    context = _word_list(reader, path, data, "context", words)
    if isinstance(data, LineDict):
        for key in data:
            if key not in ("words", "fillers", "context"):
                reader.problem(
                    path, data.line_of(key), key, "khóa lạ (chỉ dùng words, fillers và context)"
                )
    return Teencode(words=words, fillers=fillers, context=context - fillers)


def _read_words(reader: Reader, path: Path, table: LineDict | None) -> dict[str, tuple[str, ...]]:
    """The ``words`` table: each key one word, each value a meaning or a list of them."""
    words: dict[str, tuple[str, ...]] = {}
    for raw_key, value in (table or {}).items():
        line = table.line_of(raw_key) if table is not None else None
        where = f"words.{raw_key}"
        key = _key(raw_key)
        if key is None:
            reader.problem(
                path,
                line,
                where,
                "mỗi khóa phải là MỘT từ (chữ hoặc số, không dấu cách); "
                'các từ như yes, no, on, off phải đặt trong ngoặc kép, ví dụ "off"',
            )
            continue
        meanings = [value] if isinstance(value, str) else value
        if not isinstance(meanings, LineList) and not isinstance(meanings, list):
            reader.problem(path, line, where, "nghĩa phải là một đoạn chữ hoặc danh sách")
            continue
        cleaned = _meanings(reader, path, line, where, meanings)
        if key in words:
            reader.problem(path, line, where, "từ này đã có (khác nhau chữ hoa/thường)")
            continue
        if cleaned:
            words[key] = tuple(cleaned[:MAX_MEANINGS])
    return words


def _meanings(
    reader: Reader, path: Path, line: int | None, where: str, meanings: list[object]
) -> list[str]:
    """The meanings of one key, cleaned (NFC, lower case, single spaces), without repeats."""
    cleaned: list[str] = []
    for meaning in meanings:
        if not isinstance(meaning, str) or not meaning.strip():
            reader.problem(path, line, where, "mỗi nghĩa phải là một đoạn chữ")
            continue
        text = " ".join(nfc(meaning).lower().split())
        if len(text) > 60:
            reader.problem(path, line, where, "nghĩa dài quá 60 ký tự")
        elif text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_MEANINGS:
        reader.problem(path, line, where, f"nhiều nhất {MAX_MEANINGS} nghĩa cho một từ")
    return cleaned


def _word_list(
    reader: Reader, path: Path, data: object, key: str, words: Mapping[str, object]
) -> frozenset[str]:
    """An optional list of single words (``fillers``, ``context``) that are not teencode keys."""
    if not isinstance(data, LineDict) or key not in data:
        return frozenset()
    out: set[str] = set()
    for raw in reader.strings(path, data, key, key):
        word = _key(raw)
        if word is None:
            reader.problem(path, data.line_of(key), key, f"“{raw}” không phải một từ")
        elif word in words:
            reader.problem(path, data.line_of(key), key, f"“{raw}” đã có trong words")
        else:
            out.add(word)
    return frozenset(out)
