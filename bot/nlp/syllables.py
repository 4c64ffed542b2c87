"""Vietnamese syllables: tones, a loose well-formedness check, and Telex leftover repair.

A syllable is written onset + vowel cluster + coda, with at most one tone mark. Matching compares
syllables folded (no tones, no marks, đ→d); the accented form is kept as ``base`` (vowel marks,
no tone) plus a tone number, so a tone put on the "wrong" vowel ("thoaị", "hoà") compares equal
to the right one. Telex leftovers ("dduowcj", "lafm", "Vieejt") are typed by people whose input
method is off; when a token is not a Vietnamese syllable but becomes one once its Telex keys are
applied, it is repaired.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bot.core.text import strip_marks

# Tone numbers: 0 ngang, 1 sắc, 2 huyền, 3 hỏi, 4 ngã, 5 nặng.
TONE_MARKS = {"\u0301": 1, "\u0300": 2, "\u0309": 3, "\u0303": 4, "\u0323": 5}
MARK_OF_TONE = {tone: mark for mark, tone in TONE_MARKS.items()}
TELEX_TONES = {"s": 1, "f": 2, "r": 3, "x": 4, "j": 5}

_ONSETS = "ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx]"
_NUCLEI = (
    "uye|uya|uyu|uoi|uou|oai|oay|oao|oeo|ieu|yeu|uay|uey|"
    "ai|ao|au|ay|eo|eu|ia|iu|ie|ye|oa|oe|oi|oo|ua|ue|ui|uo|uu|uy|a|e|i|o|u|y"
)
_CODAS = "ch|ng|nh|c|m|n|p|t"
_SYLLABLE = re.compile(rf"^(?:{_ONSETS})?(?:{_NUCLEI})(?:{_CODAS})?$")
_VOWELS = set("aeiouyăâêôơư")
_MARKED = set("ăâêôơư")


def split_tone(syllable: str) -> tuple[str, int]:
    """``syllable`` without its tone mark (vowel marks and đ kept), and the tone number."""
    decomposed = unicodedata.normalize("NFD", syllable)
    tone = 0
    kept = []
    for ch in decomposed:
        if ch in TONE_MARKS:
            tone = TONE_MARKS[ch]
        else:
            kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept)), tone


def accent_key(syllable: str) -> str:
    """A comparison key that keeps marks and tone but not where the tone was placed."""
    base, tone = split_tone(syllable)
    return f"{base}~{tone}" if tone else base


def is_syllable(folded: str) -> bool:
    """Whether a folded token (no marks) has the shape of a Vietnamese syllable."""
    return bool(_SYLLABLE.match(folded))


@lru_cache(maxsize=65536)
def fold_word(word: str) -> str:
    """``word`` without tones and marks, đ→d (cached: words repeat a lot)."""
    return strip_marks(word)


def has_marks(text: str) -> bool:
    """Whether ``text`` carries any Vietnamese tone or vowel mark (or đ)."""
    return fold_word(text) != text


def place_tone(base: str, tone: int) -> str:
    """Write ``tone`` on the right vowel of ``base`` (a syllable with vowel marks, no tone)."""
    if not tone:
        return base
    positions = [i for i, ch in enumerate(base) if ch in _VOWELS]
    if not positions:
        return base
    # "qu" and "gi" followed by another vowel: the u / i belong to the onset.
    if len(positions) > 1 and (
        (base.startswith("qu") and positions[0] == 1)
        or (base.startswith("gi") and positions[0] == 1)
    ):
        positions = positions[1:]
    marked = [i for i in positions if base[i] in _MARKED]
    if marked:
        target = marked[-1]
    elif positions[-1] < len(base) - 1:
        target = positions[-1]  # a coda follows: the last vowel of the cluster
    elif len(positions) >= 3:
        target = positions[1]
    else:
        target = positions[0]
    text = base[: target + 1] + MARK_OF_TONE[tone] + base[target + 1 :]
    return unicodedata.normalize("NFC", text)


_MARK_RULES = (
    ("uwow", "ươ"),
    ("uow", "ươ"),
    ("uwo", "ươ"),
    ("aa", "â"),
    ("aw", "ă"),
    ("ee", "ê"),
    ("oo", "ô"),
    ("ow", "ơ"),
    ("uw", "ư"),
    ("w", "ư"),
)


def telex_repair(token: str) -> str | None:
    """The syllable a token with Telex leftovers meant ("dduowcj" → "được"), or None.

    Only tokens that are not already syllables are touched, and only when the result is one.
    """
    word = unicodedata.normalize("NFC", token.lower())
    if not word.isalpha() or len(word) < 2 or len(word) > 10:
        return None
    if is_syllable(strip_marks(word)):
        return None
    base, tone = split_tone(word)
    folded = strip_marks(base)
    first_vowel = next((i for i, ch in enumerate(folded) if ch in "aeiouy"), None)
    if first_vowel is None:
        return None
    if any(base[i] == base[i + 1] and base[i] in TELEX_TONES for i in range(len(base) - 1)):
        return None  # "pass", "kiss": a doubled tone key types the letter itself
    letters: list[str] = []
    for index, ch in enumerate(base):
        if index > first_vowel and ch in TELEX_TONES:
            tone = TELEX_TONES[ch]
        else:
            letters.append(ch)
    text = "".join(letters)
    if text.startswith("dd"):
        text = "đ" + text[2:]
    for telex, vowel in _MARK_RULES:
        text = text.replace(telex, vowel)
    if text == base and tone == split_tone(word)[1]:
        return None
    if not is_syllable(strip_marks(text)):
        return None
    return place_tone(text, tone)
