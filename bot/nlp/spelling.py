"""Reading a question's words against the content's vocabulary: ambiguous abbreviations, typos.

``Speller`` knows every word and word pair of the content. It picks the reading of an ambiguous
word that forms known pairs ("mk" next to "đổi" is "mật khẩu"), corrects an unknown word when one
edit away from a known word (or two known words run together), and offers a likelier reading for
a known word that fits nowhere ("chuyển khoảng"). A real syllable the content never uses is only
corrected when the fix fits its neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.nlp.normalize import Slot, Token
from bot.nlp.settings import Settings
from bot.nlp.syllables import is_syllable

MAX_WORD = 20  # longer "words" are not corrected


@dataclass(frozen=True)
class Corrected:
    """The question's words after correction, with their weights and what was changed."""

    folds: list[str]
    starts: list[bool]
    weights: list[float]
    changes: list[tuple[str, str]]


class Counted(Protocol):
    """Counts by key: a dict, or the index's ``TermValues`` (an array by term number)."""

    def get(self, key: str, default: int, /) -> int:
        """The count of ``key``, or ``default``."""

    def __contains__(self, key: object, /) -> bool:
        """Whether ``key`` is counted."""


@dataclass(frozen=True)
class Speller:
    """Known words (with how many entries use them), known pairs, and one-edit deletions."""

    vocab: Mapping[str, int]
    bigram_counts: Counted
    deletes: Mapping[str, frozenset[str]]
    settings: Settings = field(default_factory=Settings)
    _near: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def fit(
        self, candidate: list[str], before: str | None, after: str | None, *, prior: bool = True
    ) -> float:
        """How well words fit between their neighbours: known bigrams, then frequency."""
        score = 0.0
        if before:
            score += math.log(1 + self.bigram_counts.get(f"{before} {candidate[0]}", 0))
        if after:
            score += math.log(1 + self.bigram_counts.get(f"{candidate[-1]} {after}", 0))
        if not prior:
            return score
        return score + math.log(1 + self.vocab.get(candidate[0], 0)) / 10

    def resolve(self, slots: Sequence[Slot]) -> tuple[list[Token], list[bool]]:
        """One reading per slot (for an ambiguous word, the one forming known bigrams).

        Returns the tokens and, for each, whether it starts a phrase.
        """
        tokens: list[Token] = []
        starts: list[bool] = []
        for index, slot in enumerate(slots):
            best = slot.readings[0]
            if len(slot.readings) > 1:
                best = self._best_reading(slots, index)
            for position, token in enumerate(best):
                tokens.append(token)
                starts.append(slot.starts and position == 0)
        return tokens, starts

    def _best_reading(self, slots: Sequence[Slot], index: int) -> tuple[Token, ...]:
        slot = slots[index]
        before = slots[index - 1].readings[0][-1].fold if index and not slot.starts else None
        following = slots[index + 1] if index + 1 < len(slots) else None
        after = following.readings[0][0].fold if following and not following.starts else None
        best, best_fit = slot.readings[0], 0.0
        for reading in slot.readings:
            fit = self.fit([t.fold for t in reading], before, after, prior=False)
            if fit > best_fit:
                best, best_fit = reading, fit
        return best

    def candidates(self, word: str) -> tuple[str, ...]:
        """Known words one edit away from ``word``, sorted (ties break the same way every run).

        Kept for known words (at most the vocabulary): every question's words are checked.
        """
        near = self._near.get(word)
        if near is not None:
            return near
        found: set[str] = set()
        for key in {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}:
            found.update(self.deletes.get(key, ()))
        near = tuple(sorted(c for c in found if one_edit(word, c)))
        if word in self.vocab:
            self._near[word] = near
        return near

    def correct(self, folds: list[str], starts: list[bool], real: Sequence[bool] = ()) -> Corrected:
        """Fix unknown words that are no Vietnamese words (``real``: which are); returns the
        words, phrase starts, weights and the corrections."""
        s = self.settings
        out = Corrected([], [], [], [])
        for index, word in enumerate(folds):
            is_real = index < len(real) and real[index]
            best = None if is_real else self._fix(folds, starts, index)
            if best is None:
                out.folds.append(word)
                out.starts.append(starts[index])
                out.weights.append(1.0)
                continue
            out.changes.append((word, " ".join(best)))
            weight = s.typo_weight * (s.real_word_typo if is_syllable(word) else 1.0)
            for position, fixed in enumerate(best):
                out.folds.append(fixed)
                out.starts.append(starts[index] and position == 0)
                out.weights.append(weight)
        return out

    def _fix(self, folds: list[str], starts: list[bool], index: int) -> list[str] | None:
        """The best correction of the word at ``index``, or None to keep it."""
        word = folds[index]
        if word in self.vocab or not word.isalpha() or not 3 <= len(word) <= MAX_WORD:
            return None
        if not any(ch in "aeiouy" for ch in word):
            return None  # no vowel: an abbreviation ("cns"), not a misspelt word
        before, after = _neighbours(folds, starts, index)
        options: list[tuple[float, list[str]]] = [
            (self.fit([candidate], before, after), [candidate])
            for candidate in self.candidates(word)
        ]
        for cut in range(1, len(word)):
            left, right = word[:cut], word[cut:]
            if f"{left} {right}" in self.bigram_counts:
                options.append((self.fit([left, right], before, after) + 1, [left, right]))
        if not options:
            return None
        options.sort(key=lambda o: (-o[0], o[1]))
        if is_syllable(word) and options[0][0] < self.settings.real_word_fit:
            return None  # a real syllable the content never uses: a typo only if the fix fits
        return options[0][1]

    def context_fixes(
        self,
        folds: list[str],
        starts: list[bool],
        corrected: list[tuple[str, str]],
        firm: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        """Words that fit nowhere, one edit from a word that fits ("chuyển khoảng").

        Returns extra terms (the other word and the pairs it forms) with their weight. ``firm``
        words (Vietnamese words typed with marks) are taken as meant.
        """
        out: list[tuple[str, float]] = []
        weight = self.settings.context_fix
        fixed = {a for a, _ in corrected} | set(firm)
        for index, word in enumerate(folds):
            if not 3 <= len(word) <= MAX_WORD or not word.isalpha() or word in fixed:
                continue
            before, after = _neighbours(folds, starts, index)
            if before is None and after is None:
                continue
            if self.fit([word], before, after, prior=False) > 0:
                continue  # it already forms a known pair
            best, best_fit = None, self.settings.real_word_fit
            for candidate in self.candidates(word):
                fit = self.fit([candidate], before, after, prior=False)
                if fit > best_fit:
                    best, best_fit = candidate, fit
            if best is None:
                continue
            out.append((best, weight))
            for pair in (f"{before} {best}" if before else "", f"{best} {after}" if after else ""):
                if pair in self.bigram_counts:
                    out.append((pair, weight * self.settings.bigram_weight))
        return out


def _neighbours(folds: list[str], starts: list[bool], index: int) -> tuple[str | None, str | None]:
    """The words before and after ``index`` within its phrase."""
    before = folds[index - 1] if index > 0 and not starts[index] else None
    after = folds[index + 1] if index + 1 < len(folds) and not starts[index + 1] else None
    return before, after


def typo_deletes(vocab: Mapping[str, int]) -> dict[str, frozenset[str]]:
    """Single deletions of every known word, for one-edit corrections (SymSpell style)."""
    deletes: dict[str, set[str]] = {}
    for word in vocab:
        if len(word) < 2 or len(word) > 12 or not word.isalpha():
            continue
        for key in {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}:
            deletes.setdefault(key, set()).add(word)
    return {key: frozenset(found) for key, found in deletes.items()}


def one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are one insertion, deletion, substitution or swap apart."""
    if a == b:
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    if la > lb:
        a, b = b, a
    return any(b[:i] + b[i + 1 :] == a for i in range(len(b)))
