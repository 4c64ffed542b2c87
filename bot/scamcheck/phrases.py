"""Phrase patterns that admins write in ``content/scam/signs.yaml``, and matching them.

A pattern is words separated by spaces, with two extras:

- ``[a|b c|d]`` is one of the alternatives (each may be several words);
- ``*`` stands for up to ``GAP`` other words in the same sentence.

A word written without marks matches whatever folds to it ("otp", "chuyen" matches "chuyển");
a word written with marks matches a typed word with marks only when the marks agree ("đừng" does
not match "dùng"), and a typed word without marks by its folded form (citizens and scammers
alike type without diacritics). Tone placement does not matter ("khoá" = "khóa").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.text import nfc
from bot.nlp.syllables import accent_key, fold_word, has_marks

GAP = 3  # words a "*" may skip
_SENTENCE = re.compile(r"[!?;\n\r]+|\.(?=\s|$)|…")
_WORD = re.compile(r"\w+", re.UNICODE)


class PatternError(ValueError):
    """A pattern an admin wrote that cannot be read; the message is Vietnamese."""


@dataclass(frozen=True)
class Word:
    """A typed word: its folded form and, when typed with marks, its accent key."""

    fold: str
    accent: str | None
    sentence: int


@dataclass(frozen=True)
class PatternWord:
    """A word of a pattern."""

    fold: str
    accent: str | None

    def matches(self, word: Word) -> bool:
        """Whether the typed ``word`` is this pattern word."""
        if self.accent is None or word.accent is None:
            return self.fold == word.fold
        return self.accent == word.accent


Option = tuple[PatternWord, ...]


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern: a sequence of slots, each a set of options or a gap (``None``)."""

    source: str
    slots: tuple[tuple[Option, ...] | None, ...]

    def find(self, words: Sequence[Word], start: int = 0) -> tuple[int, int] | None:
        """The first (start, end) span of ``words`` this pattern matches, from ``start`` on."""
        for begin in range(start, len(words)):
            end = self._match(words, begin, 0, words[begin].sentence)
            if end is not None:
                return begin, end
        return None

    def spans(self, words: Sequence[Word]) -> list[tuple[int, int]]:
        """Every non-overlapping span this pattern matches."""
        out: list[tuple[int, int]] = []
        position = 0
        while (found := self.find(words, position)) is not None:
            out.append(found)
            position = max(found[1], found[0] + 1)
        return out

    def _match(self, words: Sequence[Word], at: int, slot: int, sentence: int) -> int | None:
        if slot == len(self.slots):
            return at
        options = self.slots[slot]
        if options is None:
            for skip in range(GAP + 1):
                if skip and (at + skip > len(words) or words[at + skip - 1].sentence != sentence):
                    break
                end = self._match(words, at + skip, slot + 1, sentence)
                if end is not None:
                    return end
            return None
        for option in options:
            stop = at + len(option)
            if stop > len(words):
                continue
            if all(
                words[at + i].sentence == sentence and option[i].matches(words[at + i])
                for i in range(len(option))
            ):
                end = self._match(words, stop, slot + 1, sentence)
                if end is not None:
                    return end
        return None


def _word(raw: str) -> PatternWord:
    folded = fold_word(raw)
    return PatternWord(fold=folded, accent=accent_key(raw) if has_marks(raw) else None)


def _option(text: str) -> Option:
    words = _WORD.findall(nfc(text).lower())
    if not words:
        raise PatternError("có một lựa chọn trống trong [ ]")
    return tuple(_word(w) for w in words)


def compile_pattern(source: str) -> Pattern:  # noqa: C901
    """Read one pattern; raises PatternError with a plain-words reason."""
    slots: list[tuple[Option, ...] | None] = []
    text = nfc(source).strip().lower()
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
        elif char == "[":
            close = text.find("]", position)
            if close < 0:
                raise PatternError("thiếu dấu ] đóng")
            inner = text[position + 1 : close]
            if "[" in inner:
                raise PatternError("không lồng [ ] trong [ ]")
            slots.append(tuple(_option(part) for part in inner.split("|")))
            position = close + 1
        elif char == "]":
            raise PatternError("dấu ] không có dấu [ mở")
        elif char == "*":
            if slots and slots[-1] is None:
                raise PatternError("hai dấu * liền nhau")
            slots.append(None)
            position += 1
        else:
            stop = position
            while stop < len(text) and text[stop] not in "[]*" and not text[stop].isspace():
                stop += 1
            chunk = text[position:stop]
            if "|" in chunk:
                raise PatternError("dấu | chỉ dùng trong [ ]")
            words = _WORD.findall(chunk)
            slots.extend(((_word(w),),) for w in words)
            position = stop
    if not any(slot is not None for slot in slots):
        raise PatternError("không có chữ nào")
    if slots[0] is None or slots[-1] is None:
        raise PatternError("dấu * chỉ đặt giữa các chữ")
    return Pattern(source=source, slots=tuple(slots))


def read_words(text: str) -> list[Word]:
    """The words of a message, each with its sentence number (patterns never span sentences)."""
    out: list[Word] = []
    for number, sentence in enumerate(_SENTENCE.split(nfc(text).lower())):
        for raw in _WORD.findall(sentence):
            raw = raw.replace("_", "")
            if not raw:
                continue
            marked = has_marks(raw)
            out.append(
                Word(
                    fold=fold_word(raw), accent=accent_key(raw) if marked else None, sentence=number
                )
            )
    return out
