"""One consistent, validated version of all content; swapped whole on reload."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.content.groups import Group
from bot.content.knowledge import Entry, OutOfScope, load_knowledge, load_out_of_scope
from bot.content.lessons import Lessons, check_links, load_lessons
from bot.content.messages import Intents, Messages, load_intents, load_messages
from bot.content.problems import ContentError, ordered
from bot.content.sections import Reader
from bot.nlp.cache import cached_index
from bot.nlp.matcher import Index
from bot.nlp.sound_alikes import SoundTable, load_sound_alikes
from bot.nlp.teencode import Teencode, load_teencode
from bot.scamcheck.rules import ScamRules, load_scam_rules


@dataclass(frozen=True)
class Snapshot:
    """Everything under ``content/`` as plain data, plus indexes built from it."""

    root: Path
    messages: Messages
    intents: Intents
    groups: tuple[Group, ...]
    lessons: Lessons = field(default_factory=Lessons)
    knowledge: tuple[Entry, ...] = ()
    teencode: Teencode = field(default_factory=Teencode)
    out_of_scope: tuple[OutOfScope, ...] = ()
    scam: ScamRules = field(default_factory=ScamRules)  # content/scam/: the scam check's rules
    sound_alikes: SoundTable = field(default_factory=SoundTable)
    index: Index = field(
        default_factory=lambda: Index.build(())
    )  # the matcher, built with the content
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def group(self, group_id: str) -> Group | None:
        """The group with this id."""
        return next((g for g in self.groups if g.id == group_id), None)

    def entry(self, entry_id: str) -> Entry | None:
        """The knowledge entry with this id."""
        return self.index.entries.get(entry_id)


Fingerprint = tuple[tuple[str, int, int], ...]

_CACHE_SIZE = 4
_cache: OrderedDict[Path, tuple[Fingerprint, Snapshot]] = OrderedDict()


def fingerprint(root: Path) -> Fingerprint:
    """Names, sizes and modification times of every content file: changes when any file does."""
    entries = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            stat = path.stat()
            entries.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


def load_snapshot(root: Path) -> Snapshot:
    """Read and validate the whole content directory; raises ContentError listing every problem.

    Snapshots are immutable, so unchanged files give back the snapshot already built from them.
    """
    root = root.resolve()
    current = fingerprint(root) if root.is_dir() else ()
    cached = _cache.get(root)
    if cached is not None and cached[0] == current:
        _cache.move_to_end(root)
        return cached[1]
    snapshot = _load(root)
    _cache[root] = (current, snapshot)
    _cache.move_to_end(root)
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return snapshot


def _load(root: Path) -> Snapshot:
    from bot.content.groups import load_groups

    reader = Reader(root)
    if not root.is_dir():
        reader.problem(root, None, "", "không tìm thấy thư mục nội dung")
        raise ContentError(reader.problems)
    messages = load_messages(reader)
    intents = load_intents(reader)
    groups = load_groups(reader)
    lessons = load_lessons(reader, groups)
    knowledge = load_knowledge(reader, [g.id for g in groups])
    teencode = load_teencode(reader)
    sound_alikes = load_sound_alikes(reader)
    out_of_scope = load_out_of_scope(reader, knowledge)
    check_links(reader, lessons, knowledge)
    scam = load_scam_rules(reader, [s.id for s in lessons.skills])
    if reader.problems:
        raise ContentError(ordered(reader.problems))
    return Snapshot(
        root=root,
        messages=messages,
        intents=intents,
        groups=groups,
        lessons=lessons,
        knowledge=knowledge,
        teencode=teencode,
        out_of_scope=out_of_scope,
        scam=scam,
        sound_alikes=sound_alikes,
        index=cached_index(knowledge, teencode, out_of_scope, sound_alikes),
    )
