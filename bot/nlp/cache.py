"""A few built indexes, kept so that loading the same content again reuses its index."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from bot.nlp.matcher import Index
from bot.nlp.sound_alikes import SoundTable
from bot.nlp.teencode import Teencode

if TYPE_CHECKING:
    from bot.content.knowledge import Entry, OutOfScope

_CACHE: OrderedDict[tuple[object, ...], Index] = OrderedDict()
_CACHE_SIZE = 4
# Documents the cached indexes may hold together (the newest is always kept): after a reload of
# a large knowledge base, the old index is dropped with the old snapshot instead of staying here.
_CACHE_DOCS = 5_000
_CACHE_LOCK = threading.Lock()


def cached_index(
    entries: tuple[Entry, ...],
    teencode: Teencode,
    outside: tuple[OutOfScope, ...] = (),
    sounds: SoundTable | None = None,
) -> Index:
    """The index of these entries, reused when the same content is loaded again.

    Entries and the dictionary are immutable values, so equal content gives an equal index:
    reloading unchanged files, or building many apps in tests, costs nothing. At most
    ``_CACHE_SIZE`` indexes of ``_CACHE_DOCS`` documents together are kept, but for the newest.
    """
    key: tuple[object, ...] = (
        entries,
        tuple(sorted(teencode.words.items())),
        teencode.fillers,
        teencode.context,
        outside,
        sounds.key() if sounds else (),
    )
    with _CACHE_LOCK:
        index = _CACHE.get(key)
        if index is not None:
            _CACHE.move_to_end(key)
            return index
    index = Index.build(entries, teencode, outside=outside, sounds=sounds)
    with _CACHE_LOCK:
        _CACHE[key] = index
        while len(_CACHE) > 1 and (
            len(_CACHE) > _CACHE_SIZE or sum(len(i.ids) for i in _CACHE.values()) > _CACHE_DOCS
        ):
            _CACHE.popitem(last=False)
    return index
