"""Phrase patterns that admins write in ``content/scam/signs.yaml``, and matching them.

A pattern is words separated by spaces, with two extras:

- ``[a|b c|d]`` is one of the alternatives (each may be several words);
- ``*`` stands for up to ``GAP`` other words in the same sentence, ``**`` for up to ``WIDE``.

A word written without marks matches whatever folds to it ("otp", "chuyen" matches "chuyển");
a word written with marks matches a typed word with marks only when the marks agree ("đừng" does
not match "dùng"), and a typed word without marks by its folded form (citizens and scammers
alike type without diacritics). Tone placement does not matter ("khoá" = "khóa").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.text import nfc
from bot.nlp.syllables import accent_key, fold_word, has_marks

GAP = 3  # words a "*" may skip
WIDE = 8  # words a "**" may skip
MARKED_SHARE = 0.4  # a message with marks on this share of its words is typed with marks
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
    """A word of a pattern; ``strict`` ones with marks never match a word typed without."""

    fold: str
    accent: str | None
    strict: bool = False

    def matches(self, word: Word) -> bool:
        """Whether the typed ``word`` is this pattern word."""
        if self.accent is None:
            return self.fold == word.fold
        if word.accent is None:
            return not self.strict and self.fold == word.fold
        return self.accent == word.accent


Option = tuple[PatternWord, ...]


@dataclass(frozen=True)
class Span:
    """Where a pattern matched: words ``begin`` to ``end`` (exclusive).

    ``gaps`` are the positions its ``*`` skipped: a negation there cancels the match, one in the
    pattern's own words ("không thẩm định") does not.
    """

    begin: int
    end: int
    gaps: tuple[int, ...] = ()


Slot = tuple[Option, ...] | int  # the options of one place, or a gap of up to that many words


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern: a sequence of slots, each a set of options or a gap."""

    source: str
    slots: tuple[Slot, ...]
    by_first: tuple[dict[str, tuple[Option, ...]] | None, ...] = field(
        init=False, repr=False, compare=False
    )  # per slot, its options by the folded form of their first word

    def __post_init__(self) -> None:
        index: list[dict[str, tuple[Option, ...]] | None] = []
        for slot in self.slots:
            if isinstance(slot, int):
                index.append(None)
                continue
            grouped: dict[str, list[Option]] = {}
            for option in slot:
                grouped.setdefault(option[0].fold, []).append(option)
            index.append({k: tuple(v) for k, v in grouped.items()})
        object.__setattr__(self, "by_first", tuple(index))

    def find(self, words: Sequence[Word], start: int = 0) -> Span | None:
        """The first span of ``words`` this pattern matches, from ``start`` on."""
        for begin in range(start, len(words)):
            found = self._match(words, begin, 0, words[begin].sentence, ())
            if found is not None:
                return Span(begin, found[0], found[1])
        return None

    def spans(self, words: Sequence[Word]) -> list[Span]:
        """Every span this pattern matches, one per starting word."""
        out: list[Span] = []
        position = 0
        while (found := self.find(words, position)) is not None:
            out.append(found)
            position = found.begin + 1
        return out

    def _match(
        self, words: Sequence[Word], at: int, slot: int, sentence: int, gaps: tuple[int, ...]
    ) -> tuple[int, tuple[int, ...]] | None:
        if slot == len(self.slots):
            return at, gaps
        options = self.slots[slot]
        if isinstance(options, int):
            for skip in range(options + 1):
                if skip and (at + skip > len(words) or words[at + skip - 1].sentence != sentence):
                    break
                skipped = gaps + tuple(range(at, at + skip))
                found = self._match(words, at + skip, slot + 1, sentence, skipped)
                if found is not None:
                    return found
            return None
        if at >= len(words):
            return None
        index = self.by_first[slot]
        for option in index.get(words[at].fold, ()) if index is not None else ():
            stop = at + len(option)
            if stop > len(words):
                continue
            if all(
                words[at + i].sentence == sentence and option[i].matches(words[at + i])
                for i in range(len(option))
            ):
                found = self._match(words, stop, slot + 1, sentence, gaps)
                if found is not None:
                    return found
        return None


def _word(raw: str, strict: bool) -> PatternWord:
    folded = fold_word(raw)
    accent = accent_key(raw) if has_marks(raw) else None
    return PatternWord(fold=folded, accent=accent, strict=strict)


def _option(text: str, strict: bool) -> Option:
    words = _WORD.findall(nfc(text).lower())
    if not words:
        raise PatternError("có một lựa chọn trống trong [ ]")
    return tuple(_word(w, strict) for w in words)


def compile_pattern(source: str, *, strict: bool = False) -> Pattern:  # noqa: C901
    """Read one pattern; raises PatternError with a plain-words reason.

    With ``strict``, a word written with marks matches only words typed with the same marks
    (used for negations: "cho" typed without marks is far more often "cho" than "chớ").
    """
    slots: list[Slot] = []
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
            slots.append(tuple(_option(part, strict) for part in inner.split("|")))
            position = close + 1
        elif char == "]":
            raise PatternError("dấu ] không có dấu [ mở")
        elif char == "*":
            wide = text.startswith("**", position)
            if text.startswith("***", position) or (slots and isinstance(slots[-1], int)):
                raise PatternError("hai khoảng * liền nhau")
            slots.append(WIDE if wide else GAP)
            position += 2 if wide else 1
        else:
            stop = position
            while stop < len(text) and text[stop] not in "[]*" and not text[stop].isspace():
                stop += 1
            chunk = text[position:stop]
            if "|" in chunk:
                raise PatternError("dấu | chỉ dùng trong [ ]")
            words = _WORD.findall(chunk)
            slots.extend(((_word(w, strict),),) for w in words)
            position = stop
    if not any(not isinstance(slot, int) for slot in slots):
        raise PatternError("không có chữ nào")
    if isinstance(slots[0], int) or isinstance(slots[-1], int):
        raise PatternError("dấu * chỉ đặt giữa các chữ")
    return Pattern(source=source, slots=tuple(slots))


def read_words(text: str) -> list[Word]:
    """The words of a message, each with its sentence number (patterns never span sentences).

    In a message typed with marks (most words carry them), a word without marks really has
    none: "anh" there is not "ảnh".
    """
    sentences = [
        [raw.replace("_", "") for raw in _WORD.findall(sentence)]
        for sentence in _SENTENCE.split(nfc(text).lower())
    ]
    letters = [raw for sentence in sentences for raw in sentence if raw.isalpha()]
    marked_text = bool(letters) and sum(map(has_marks, letters)) >= MARKED_SHARE * len(letters)
    out: list[Word] = []
    for number, sentence in enumerate(sentences):
        for raw in sentence:
            if not raw:
                continue
            marked = marked_text or has_marks(raw)
            out.append(
                Word(
                    fold=fold_word(raw), accent=accent_key(raw) if marked else None, sentence=number
                )
            )
    return out
