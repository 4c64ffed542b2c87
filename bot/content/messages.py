"""User-facing texts (``content/messages/*.yaml``) and intent phrases (``content/intents/``)."""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.content.sections import Reader
from bot.content.yamlio import LineDict
from bot.core.text import fold

log = logging.getLogger(__name__)


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Messages:
    """Texts by dotted key, e.g. ``menu.title``; placeholders use ``{name}``."""

    texts: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, key: str, **values: Any) -> str:
        """The text for ``key`` with placeholders filled; the key itself if it is missing."""
        text = self.texts.get(key)
        if text is None:
            log.error("missing message key %s", key)
            return key
        if not values:
            return text
        return string.Formatter().vformat(text, (), _Blank(values))

    def has(self, key: str) -> bool:
        """Whether ``key`` exists."""
        return key in self.texts


@dataclass(frozen=True)
class Intents:
    """Phrases that, typed alone, mean a command (folded, so "Bắt đầu" = "bat dau")."""

    by_phrase: Mapping[str, str] = field(default_factory=dict)

    def match(self, text: str) -> str | None:
        """The intent whose phrase equals ``text`` once folded, if any."""
        return self.by_phrase.get(fold(text))


def _flatten(prefix: str, data: LineDict, out: dict[str, tuple[str, int]]) -> None:
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, LineDict):
            _flatten(dotted, value, out)
        else:
            out[dotted] = (value, data.line_of(key))


def load_messages(reader: Reader) -> Messages:
    """Read and merge every ``messages/*.yaml``; a key defined twice is a problem."""
    texts: dict[str, str] = {}
    origin: dict[str, str] = {}
    files = reader.files("messages/*.yaml")
    if not files:
        reader.problem(reader.root / "messages", None, "", "không có tệp tin nhắn nào")
    for path in files:
        data = reader.load(path)
        if data is None:
            continue
        if not isinstance(data, LineDict):
            reader.problem(path, None, "", "tệp phải là một bảng khóa: giá trị")
            continue
        flat: dict[str, tuple[str, int]] = {}
        _flatten("", data, flat)
        for key, (value, line) in flat.items():
            if not isinstance(value, str) or not value.strip():
                reader.problem(path, line, key, "phải là một đoạn chữ")
                continue
            if key in texts:
                reader.problem(path, line, key, f"trùng khóa, đã có trong {origin[key]}")
                continue
            try:
                list(string.Formatter().parse(value))
            except ValueError as exc:
                reader.problem(path, line, key, f"dấu ngoặc {{ }} không hợp lệ ({exc})")
                continue
            texts[key] = value.strip()
            origin[key] = reader.rel(path)
    return Messages(texts)


def load_intents(reader: Reader) -> Intents:
    """Read ``intents/*.yaml``: name -> phrases; a phrase claimed by two intents is a problem."""
    by_phrase: dict[str, str] = {}
    for path in reader.files("intents/*.yaml"):
        data = reader.load(path)
        intents = reader.mapping(path, data, "intents") if data is not None else None
        if intents is None:
            continue
        for name in intents:
            for phrase in reader.strings(path, intents, name, f"intents.{name}"):
                key = fold(phrase) or phrase.strip()
                other = by_phrase.get(key)
                if other is not None and other != name:
                    reader.problem(
                        path,
                        intents.line_of(name),
                        f"intents.{name}",
                        f"cụm “{phrase}” đã thuộc ý định “{other}”",
                    )
                    continue
                by_phrase[key] = name
    return Intents(by_phrase)


def messages_from(root: Path) -> Messages:
    """Messages alone, for tools that need texts without the whole content (e.g. the CLI)."""
    return load_messages(Reader(root))
