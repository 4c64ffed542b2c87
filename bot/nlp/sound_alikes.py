"""Sound-alike spellings of product names and terms (``content/sound_alikes.yaml``), kept by admins.

Speech-to-text and people who write by ear spell "Zalo" as "da lô", "OTP" as "ô tê pê",
"Mobile Money" as "mo bai mo ni". The file maps each term, written as the knowledge base writes
it, to its spellings; the normaliser replaces a spelling (compared without marks, so "da lo" is
"da lô") by the term before anything else. A one-word spelling must not be a Vietnamese word
("lô" alone is not Zalo): write it with the word that comes with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.content.sections import Reader
from bot.content.yamlio import LineDict, LineList, duplicate_keys
from bot.core.text import nfc
from bot.nlp.lexicon import lexicon
from bot.nlp.normalize import MAX_SOUND, SoundAlikes, words
from bot.nlp.syllables import fold_word, is_syllable

FILE = "sound_alikes.yaml"
MAX_TERM = 40


@dataclass(frozen=True)
class SoundTable:
    """Folded spelling (its words) → the words of the term it means."""

    spellings: SoundAlikes = field(default_factory=dict)

    def key(self) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
        """A hashable, ordered form (for caching the index built with it)."""
        return tuple(sorted(self.spellings.items()))


def load_sound_alikes(reader: Reader) -> SoundTable:
    """Read ``sound_alikes.yaml`` (optional); every problem names its line."""
    path = reader.root / FILE
    if not path.exists():
        return SoundTable()
    for twice_line, twice in duplicate_keys(path):
        reader.problem(path, twice_line, twice, "thuật ngữ này được viết hai lần; chỉ giữ một lần")
    data = reader.load(path)
    if data is None:
        return SoundTable()
    table = reader.mapping(path, data, "terms")
    if isinstance(data, LineDict):
        for key in data:
            if key != "terms":
                reader.problem(path, data.line_of(key), key, "khóa lạ (chỉ dùng terms)")
    spellings: dict[tuple[str, ...], tuple[str, ...]] = {}
    owner: dict[tuple[str, ...], str] = {}
    for raw_term, value in (table or {}).items():
        line = table.line_of(raw_term) if table is not None else None
        where = f"terms.{raw_term}"
        term = words(str(raw_term))
        if not term or len(str(raw_term)) > MAX_TERM:
            reader.problem(path, line, where, f"thuật ngữ phải có chữ, tối đa {MAX_TERM} ký tự")
        elif not isinstance(value, (list, LineList)) or not value:
            reader.problem(path, line, where, "cần một danh sách các cách viết")
        else:
            for folded, spelling in _spellings(reader, path, line, where, value):
                if owner.get(folded, raw_term) != raw_term:
                    problem = f"“{spelling}” đã là cách viết của {owner[folded]}"
                    reader.problem(path, line, where, problem)
                    continue
                owner[folded] = str(raw_term)
                spellings[folded] = tuple(term)
    return SoundTable(spellings)


def _spellings(
    reader: Reader, path: Path, line: int | None, where: str, value: list[object]
) -> list[tuple[tuple[str, ...], str]]:
    """The usable spellings of one term: (folded words, as written)."""
    out = []
    for spelling in value:
        folded = _spelling(reader, path, line, where, spelling)
        if folded is not None:
            out.append((folded, str(spelling)))
    return out


def _spelling(
    reader: Reader, path: Path, line: int | None, where: str, spelling: object
) -> tuple[str, ...] | None:
    """The folded words of one spelling, or None (with a problem) when it cannot be used."""
    if not isinstance(spelling, str) or not spelling.strip():
        reader.problem(path, line, where, "mỗi cách viết phải là một đoạn chữ")
        return None
    found = words(nfc(spelling))
    if not 1 <= len(found) <= MAX_SOUND:
        reader.problem(path, line, where, f"“{spelling}”: mỗi cách viết từ 1 đến {MAX_SOUND} từ")
        return None
    if len(found) == 1 and is_syllable(fold_word(found[0])) and lexicon().knows(found[0]):
        reader.problem(
            path,
            line,
            where,
            f"“{spelling}” là một từ tiếng Việt: viết kèm từ đứng cạnh nó "
            "để không đổi nghĩa những câu khác",
        )
        return None
    return tuple(fold_word(w) for w in found)
