"""Text folding shared by the core and the matcher: NFC, lower case, no tones or marks, đ→d."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

MAX_INPUT = 2000  # what a user typed is cut to this before matching; nobody types more in a chat
_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC form."""
    return unicodedata.normalize("NFC", text)


def strip_marks(text: str) -> str:
    """Remove Vietnamese tones and vowel marks and map đ/Đ to d/D, keeping everything else."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


@lru_cache(maxsize=4096)  # button labels come back every turn
def fold(text: str) -> str:
    """Fold text to a comparison key: lower case, no marks, punctuation and extra spaces removed."""
    folded = strip_marks(nfc(text).lower())
    folded = _PUNCT.sub(" ", folded).replace("_", " ")
    return _SPACES.sub(" ", folded).strip()
