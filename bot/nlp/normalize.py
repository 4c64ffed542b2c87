"""From what a citizen typed to the words the matcher compares.

NFC, lower case, emoji and punctuation out ("wi-fi" → "wifi"), ``Ð``/``ð`` (often typed for
Đ/đ) read as đ, sound-alike spellings of product names replaced ("da lô" → "Zalo", from
``content/sound_alikes.yaml``), teencode and abbreviations expanded from ``content/teencode.yaml``,
stretched letters shortened when the word is not an abbreviation ("khôngggg" → "không", but
"cccd" stays), Telex leftovers repaired ("dduowcj" → "được"), filler words dropped. Each word
keeps its folded form (no tones or marks, đ→d), which is what matching relies on, and its
accented form when the citizen typed marks, which only breaks ties.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.text import nfc
from bot.nlp.syllables import accent_key, fold_word, has_marks, is_syllable, telex_repair
from bot.nlp.teencode import Teencode

_JOIN = re.compile(r"(?<=[^\W\d_])[-'’](?=[^\W\d_])")
_BREAK = re.compile(r"[.,;:!?…()\[\]{}\"“”\n\r\t/|]+")
_NONWORD = re.compile(r"[\W_]+")
_STRETCH = re.compile(r"([^\W\d_])\1{2,}")
# Letters that look like Đ/đ: Icelandic eth (U+00D0/U+00F0) and African D (U+0189/U+0256).
_D_LOOKALIKES = str.maketrans({"\u00d0": "Đ", "\u00f0": "đ", "\u0189": "Đ", "\u0256": "đ"})
MAX_SOUND = 6  # words in the longest sound-alike spelling
MARKED_SHARE = 0.4  # Vietnamese typed with marks has marks on most words
MAX_WORDS = 60
CACHE_SIZE = 100_000  # readings of words already seen (they are immutable)
_MISSING = object()  # questions are short; the rest of a pasted essay adds nothing


@dataclass(frozen=True)
class Token:
    """One word: ``fold`` for matching, ``accent`` (marks + tone) when typed with marks."""

    fold: str
    accent: str | None = None
    origin: str = ""  # "" as typed, "telex" repaired, "teencode" expanded

    @property
    def text(self) -> str:
        """The word for people to read."""
        if self.accent is None:
            return self.fold
        from bot.nlp.syllables import place_tone

        base, _, tone = self.accent.partition("~")
        return place_tone(base, int(tone)) if tone else base


@dataclass(frozen=True)
class Slot:
    """One typed word and its reading(s): several when an abbreviation is ambiguous.

    ``starts`` is true for the first word after punctuation: no bigram spans the break.
    """

    raw: str
    readings: tuple[tuple[Token, ...], ...]
    starts: bool = False


def phrases(text: str, *, shorten: bool = True) -> list[list[str]]:
    """The words of ``text`` (NFC, lower case, no emoji), grouped by punctuation.

    With ``shorten``, stretched letters are shortened here ("khôngggg" → "không"); the
    normaliser does it itself, after looking the word up as typed ("cccd").
    """
    text = nfc(text.translate(_D_LOOKALIKES)).lower()
    text = _JOIN.sub("", text)
    if shorten:
        text = _STRETCH.sub(r"\1", text)
    out: list[list[str]] = []
    count = 0
    for part in _BREAK.split(text):
        found = _NONWORD.sub(" ", part).split()[: MAX_WORDS - count]
        if found:
            out.append(found)
            count += len(found)
    return out


def words(text: str) -> list[str]:
    """The words of ``text``: NFC, lower case, punctuation and emoji removed."""
    return [word for phrase in phrases(text) for word in phrase]


def plain_token(word: str, origin: str = "") -> Token:
    """A token for a word taken as written."""
    return Token(
        fold=fold_word(word), accent=accent_key(word) if has_marks(word) else None, origin=origin
    )


SoundAlikes = Mapping[tuple[str, ...], tuple[str, ...]]  # folded spelling -> the term's words


class Normaliser:
    """Turns text into slots; ``protected`` words (the content's own) are never "repaired".

    ``sounds`` maps a sound-alike spelling (folded words) to the words of the term it means.
    """

    def __init__(
        self, teencode: Teencode, protected: Collection[str] = (), sounds: SoundAlikes | None = None
    ) -> None:
        self.teencode = teencode
        self.protected = frozenset(protected)
        self.sounds = dict(sounds or {})
        self._sound_sizes = sorted({len(k) for k in self.sounds}, reverse=True)
        self._cache: dict[tuple[str, bool], Any] = {}
        self._meanings: dict[str, tuple[tuple[Token, ...], ...]] = {
            key: tuple(
                tuple(plain_token(w, "teencode") for w in meaning.split()) for meaning in meanings
            )
            for key, meanings in teencode.words.items()
        }

    def slots(self, text: str) -> list[Slot]:
        """The slots of ``text``, in order."""
        found = [self._sound_alikes(phrase) for phrase in phrases(text, shorten=False)]
        letters = [w for phrase in found for w in phrase if w.isalpha()]
        marked = sum(has_marks(w) for w in letters)
        # Typed with marks on most words: the unmarked ones really have none ("em", "vneid").
        with_marks = bool(letters) and marked >= MARKED_SHARE * len(letters)
        out: list[Slot] = []
        for phrase in found:
            starts = True
            for word in phrase:
                key = (word, with_marks)
                readings = self._cache.get(key, _MISSING)
                if readings is _MISSING:
                    readings = self._read(word, with_marks)
                    if len(self._cache) >= CACHE_SIZE:
                        self._cache.clear()
                    self._cache[key] = readings
                if readings is None:
                    continue
                out.append(Slot(word, readings, starts))
                starts = False
        return out

    def _sound_alikes(self, phrase: list[str]) -> list[str]:
        """The phrase with sound-alike spellings replaced by their term (longest first)."""
        if not self.sounds:
            return phrase
        folds = [fold_word(w) for w in phrase]
        out: list[str] = []
        i = 0
        while i < len(phrase):
            for size in self._sound_sizes:
                term = self.sounds.get(tuple(folds[i : i + size]))
                if term is not None:
                    out.extend(term)
                    i += size
                    break
            else:
                out.append(phrase[i])
                i += 1
        return out

    def _read(self, word: str, with_marks: bool) -> tuple[tuple[Token, ...], ...] | None:
        """The reading(s) of one word; None for a filler word."""
        if word in self.teencode.fillers:
            return None
        readings = self._meanings.get(word)
        if readings is not None:
            return readings
        shortened = _STRETCH.sub(r"\1", word)
        if shortened != word:  # "khôngggg", after "cccd" was looked up as typed
            return self._read(shortened, with_marks)
        folded = fold_word(word)
        if not is_syllable(folded) and folded not in self.protected:
            repaired = telex_repair(word)
            if repaired is not None:
                again = self._meanings.get(repaired)
                return again or ((plain_token(repaired, "telex"),),)
        token = plain_token(word)
        if with_marks and token.accent is None and word.isalpha():
            token = Token(fold=token.fold, accent=word)
        return ((token,),)

    def ambiguous_folds(self) -> frozenset[str]:
        """The first and last words (folded) of every reading of an abbreviation with several
        readings: the words whose pairs tell those readings apart."""
        return frozenset(
            reading[end].fold
            for readings in self._meanings.values()
            if len(readings) > 1
            for reading in readings
            if reading
            for end in (0, -1)
        )

    def tokens(self, text: str) -> list[Token]:
        """The tokens of ``text``, taking the first reading of ambiguous words."""
        return [token for slot in self.slots(text) for token in slot.readings[0]]

    def text(self, text: str) -> str:
        """The normalised text, for people (e.g. ``trolyso ask``)."""
        return " ".join(token.text for token in self.tokens(text))
