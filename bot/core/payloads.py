"""Typed button payloads, in the spirit of aiogram's ``CallbackData``.

A feature declares each of its payloads as a small frozen dataclass with a prefix::

    @dataclass(frozen=True)
    class LessonAnswer(Payload, prefix="lesson:ans"):
        attempt: int
        question: str
        choice: int

``LessonAnswer(3, "q1", 2).pack()`` is ``"lesson:ans:3:q1:2"``, and ``Payload.parse(raw)`` gives
the object back, or None for anything malformed: every length and character check is here, so
a handler only ever sees a well-formed payload (``router.button(LessonAnswer)`` hands it the
parsed object; a malformed one is a stale button).

Fields are ``int`` (a row id: digits only), ``str`` (a content id: letters, digits, ``_.-``),
either of them ``| None`` (an optional field; trailing ones are left out when None), or a
``Literal`` of strings. A field whose ``None`` is written as a word gives it in its metadata:
``field(default=None, metadata={"none": "all"})``. Each prefix belongs to one class.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self, Union

REF_MARK = "\x00"  # brackets a ``RowRef`` in a packed payload; never typed, never shown
SEP = ":"
MAX_PAYLOAD = 256  # OfferedButton.payload
MAX_DIGITS = 12
MAX_WORD = 64
WORD = re.compile(r"[A-Za-z0-9_.\-]*")
PREFIX = re.compile(r"[a-z][a-z0-9_]*(:[a-z][a-z0-9_]*)*")


class RowRef(int):
    """Stands for the id of a row added in this turn (``Context.ref``); packed as a mark the
    dispatcher replaces with the id once the row is written."""

    index: int

    def __new__(cls, index: int) -> RowRef:
        ref = super().__new__(cls, 0)
        ref.index = index
        return ref


class PayloadError(TypeError):
    """A payload class that cannot be declared (bad prefix, a prefix already taken, a field
    type that cannot be packed)."""


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str  # int | str | literal
    optional: bool
    choices: tuple[str, ...] = ()
    none: str = ""

    def encode(self, value: Any) -> str:
        if value is None:
            if not self.optional:
                raise ValueError(f"{self.name} is required")
            return self.none
        if self.kind == "int":
            if isinstance(value, RowRef):
                return f"{REF_MARK}{value.index}{REF_MARK}"
            if not isinstance(value, int) or value < 0 or len(str(value)) > MAX_DIGITS:
                raise ValueError(f"{self.name}: {value!r} is not a row id")
            return str(value)
        text = str(value)
        ok = text in self.choices if self.kind == "literal" else _word(text)
        if not ok or (text == self.none and self.optional):
            raise ValueError(f"{self.name}: {text!r} cannot be put in a payload")
        return text

    def decode(self, raw: str) -> Any:
        """The value, or raises ``ValueError``."""
        if self.optional and raw == self.none:
            return None
        if self.kind == "int":
            if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_DIGITS:
                raise ValueError(raw)
            return int(raw)
        if self.kind == "literal":
            if raw not in self.choices:
                raise ValueError(raw)
            return raw
        if not _word(raw):
            raise ValueError(raw)
        return raw


def _word(text: str) -> bool:
    return len(text) <= MAX_WORD and WORD.fullmatch(text) is not None


def _field_of(f: dataclasses.Field[Any], hint: Any, owner: str) -> _Field:
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) in (Union, types.UnionType) and type(None) in args
    if optional:
        rest = [a for a in args if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else None
    none = str(f.metadata.get("none", ""))
    if hint is int:
        return _Field(f.name, "int", optional, none=none)
    if hint is str:
        return _Field(f.name, "str", optional, none=none)
    if typing.get_origin(hint) is Literal and all(
        isinstance(a, str) for a in typing.get_args(hint)
    ):
        return _Field(f.name, "literal", optional, tuple(typing.get_args(hint)), none=none)
    raise PayloadError(f"{owner}.{f.name}: a payload field is int, str or a Literal of str")


class Payload:
    """Base of every button payload: subclass it as a frozen dataclass with ``prefix=...``."""

    prefix: ClassVar[str] = ""
    _by_prefix: ClassVar[dict[str, type[Payload]]] = {}
    _fields: ClassVar[tuple[_Field, ...] | None] = None

    def __init_subclass__(cls, *, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not PREFIX.fullmatch(prefix):
            raise PayloadError(f"{cls.__qualname__}: bad payload prefix {prefix!r}")
        for taken, other in Payload._by_prefix.items():
            if taken == prefix or taken.startswith(prefix + SEP) or prefix.startswith(taken + SEP):
                raise PayloadError(
                    f"payload prefix {prefix!r} of {_name(cls)} clashes with {taken!r} of "
                    f"{_name(other)}"
                )
        cls.prefix = prefix
        cls._fields = None
        Payload._by_prefix[prefix] = cls

    @classmethod
    def _specs(cls) -> tuple[_Field, ...]:
        if cls._fields is None:
            if not dataclasses.is_dataclass(cls):
                raise PayloadError(f"{_name(cls)} must be a dataclass")
            hints = typing.get_type_hints(cls)
            cls._fields = tuple(
                _field_of(f, hints[f.name], cls.__qualname__) for f in dataclasses.fields(cls)
            )
        return cls._fields

    def pack(self) -> str:
        """The payload as the string stored with an offered button."""
        parts = [self.prefix]
        values = [(spec, getattr(self, spec.name)) for spec in self._specs()]
        while (
            values and values[-1][1] is None and values[-1][0].optional and not values[-1][0].none
        ):
            values.pop()  # trailing optional fields left out: "fu:home", not "fu:home:"
        parts += [spec.encode(value) for spec, value in values]
        packed = SEP.join(parts)
        if len(packed) > MAX_PAYLOAD:
            raise ValueError(f"{_name(type(self))} payload longer than {MAX_PAYLOAD}")
        return packed

    @classmethod
    def unpack(cls, raw: str) -> Self | None:
        """This payload from its packed string, or None when it is not one."""
        if len(raw) > MAX_PAYLOAD or not (raw == cls.prefix or raw.startswith(cls.prefix + SEP)):
            return None
        rest = raw[len(cls.prefix) + 1 :]
        parts = rest.split(SEP) if raw != cls.prefix else []
        specs = cls._specs()
        if len(parts) > len(specs) or any(not s.optional for s in specs[len(parts) :]):
            return None
        try:
            values = {s.name: s.decode(p) for s, p in zip(specs, parts, strict=False)}
        except ValueError:
            return None
        values.update({s.name: None for s in specs[len(parts) :]})
        payload = cls(**values)
        try:
            canonical = payload.pack() == raw  # one spelling per payload: no "fu:home:"
        except ValueError:
            canonical = False
        return payload if canonical else None

    @staticmethod
    def parse(raw: str) -> Payload | None:
        """The payload ``raw`` packs, of whichever class owns its prefix; None if malformed."""
        if len(raw) > MAX_PAYLOAD:
            return None
        head = raw
        while head:
            cls = Payload._by_prefix.get(head)
            if cls is not None:
                return cls.unpack(raw)
            head = head.rpartition(SEP)[0]
        return None


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
