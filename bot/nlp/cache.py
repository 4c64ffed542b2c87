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
_CACHE_LOCK = threading.Lock()


def cached_index(
    entries: tuple[Entry, ...],
    teencode: Teencode,
    outside: tuple[OutOfScope, ...] = (),
    sounds: SoundTable | None = None,
) -> Index:
    """The index of these entries, reused when the same content is loaded again.

    Entries and the dictionary are immutable values, so equal content gives an equal index:
    reloading unchanged files, or building many apps in tests, costs nothing.
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
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return index
