"""Which strings are Vietnamese words: a syllable list taken from ``wordfreq``'s Vietnamese data.

The matcher treats a word the knowledge base never uses differently depending on whether it is
Vietnamese: a real word ("heo", "chợ", "móc túi") is neutral, never evidence against an answer
and never "corrected" into another word; a string that is not ("mattt", "vneidd") may be a typo.
The word list comes from wordfreq (Apache-2.0 code, its Vietnamese frequencies CC BY-SA 4.0, built
from Wikipedia, subtitles and web text): about 10,000 tokens, of which the Vietnamese-shaped
syllables are kept, with their frequency on the Zipf scale (log10 of occurrences per billion
words: 7 for "là", 3 for a rare word).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.core.text import nfc
from bot.nlp.syllables import accent_key, fold_word, has_marks, is_syllable

MIN_ZIPF = 2.5  # rarer tokens of the list are mostly names and noise


@dataclass(frozen=True)
class Lexicon:
    """Vietnamese syllables: with marks (accent keys, for words typed with marks) and folded."""

    accented: frozenset[str]
    folded: frozenset[str]

    def knows(self, word: str) -> bool:
        """Whether ``word`` (lower case, NFC) is a Vietnamese syllable: exactly, when typed
        with marks; in any of its marked forms, when typed without."""
        if has_marks(word):
            return accent_key(word) in self.accented
        return word in self.folded

    def knows_fold(self, fold: str) -> bool:
        """Whether some Vietnamese syllable folds to ``fold``."""
        return fold in self.folded


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The Vietnamese lexicon (read once, in about 0.1 s)."""
    from wordfreq import get_frequency_dict

    accented: set[str] = set()
    folded: set[str] = set()
    least = 10 ** (MIN_ZIPF - 9)  # Zipf is log10 of the frequency per billion words
    for raw, frequency in get_frequency_dict("vi", wordlist="small").items():
        word = nfc(raw).lower()
        if frequency < least or not word.isalpha():
            continue
        fold = fold_word(word)
        if is_syllable(fold):  # drops most foreign words and names ("social", "wesley")
            accented.add(accent_key(word))
            folded.add(fold)
    return Lexicon(frozenset(accented), frozenset(folded))
