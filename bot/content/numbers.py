"""Numbers that change over time (``content/numbers.yaml``): written once, used as ``{name}``.

Limits and dates (the amount above which a bank asks for a face check, a Mobile Money cap, the
day a rule took effect) change with new regulations. Admins keep each one in ``numbers.yaml``;
knowledge answers, their steps and lesson texts write ``{name}`` and the reader fills it in, so
one edit updates every text. A ``{name}`` left in an answer or its steps that names no number is
a problem (file:line), so a typo never reaches a citizen as "{sinh_trac}".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol

from bot.content.yamlio import LineDict


class Reader(Protocol):
    """What loading the numbers needs of the content reader (``bot.content.sections``)."""

    root: Path
    numbers: dict[str, str]

    def load(self, path: Path) -> Any: ...
    def mapping(self, path: Path, data: Any, key: str) -> LineDict | None: ...
    def problem(self, path: Path, line: int | None, field: str, message: str) -> None: ...


NUMBERS_FILE = "numbers.yaml"
NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{1,63})\}")
MAX_VALUE = 80


def load_numbers(reader: Reader) -> dict[str, str]:
    """Read the optional ``numbers.yaml`` (``numbers: {name: value}``) into ``reader.numbers``
    (the reader does it when created, so every text it reads afterwards gets the values)."""
    path = reader.root / NUMBERS_FILE
    if not path.exists():
        return {}
    data = reader.load(path)
    if data is None:
        return {}
    table = reader.mapping(path, data, "numbers")
    found: dict[str, str] = {}
    for name in table or {}:
        assert isinstance(table, LineDict)
        line = table.line_of(name)
        value = table[name]
        if not isinstance(name, str) or not NAME.match(name):
            reader.problem(
                path, line, f"numbers.{name}", "tên chỉ gồm chữ thường không dấu, số và dấu _"
            )
            continue
        if not isinstance(value, (str, int, float)) or not str(value).strip():
            reader.problem(path, line, f"numbers.{name}", "phải là một con số hay đoạn chữ ngắn")
            continue
        if len(str(value)) > MAX_VALUE:
            reader.problem(path, line, f"numbers.{name}", f"dài quá {MAX_VALUE} ký tự")
            continue
        found[name] = str(value).strip()
    reader.numbers = found
    return found


def fill(text: str, numbers: dict[str, str]) -> str:
    """The text with every ``{name}`` of a known number replaced by its value."""
    if "{" not in text or not numbers:
        return text
    return PLACEHOLDER.sub(lambda m: numbers.get(m.group(1), m.group(0)), text)


def unknown(text: str) -> list[str]:
    """The ``{name}`` placeholders still in a filled text (names no number)."""
    return PLACEHOLDER.findall(text)
