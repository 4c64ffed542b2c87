"""Declared flows: a conversation a feature owns for a while, with its data as a dataclass.

    @dataclass
    class LessonData:
        skill: str
        attempt: int

    LESSON = Flow("lesson", LessonData)

``ctx.enter(LESSON, LessonData(...))`` hands the conversation to the flow and saves the data
(as JSON, the dataclass's fields by name); ``ctx.flow_data(LESSON)`` reads it back, checked
against the field types. A flow with ``keeps`` is for typing one text: it ends as soon as the
user does anything but type or press one of those buttons. A flow with ``lapse`` (its data has
an ``at`` field, the ISO time it started) is left once that long has passed: a member's next
free text an hour later must not go to a citizen by surprise.

Attributes that outlive a flow (a join code sent before consent) are not flow data:
``ctx.keep(name, value)`` / ``ctx.kept(name)``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeVar, Union

from bot.core.payloads import Payload

D = TypeVar("D")

# How long a flow waiting for one typed text stays open (its ``lapse``).
TYPING_LAPSE = timedelta(minutes=60)


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value has the type a flow data field declares."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_fits(value, arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return value in typing.get_args(hint)
    if hint is type(None) or hint is None:
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint in (str, bool):
        return isinstance(value, hint)
    return False


@dataclass(frozen=True)
class Flow(Generic[D]):
    """A flow's name (stored in ``conversation_state.flow``) and the dataclass of its data."""

    name: str
    data: type[D]
    keeps: tuple[type[Payload], ...] | None = None
    lapse: timedelta | None = None

    def lapsed(self, data: D, now: datetime) -> bool:
        """Whether ``data`` (with its ``at`` start time) is older than the flow's lapse."""
        if self.lapse is None:
            return False
        at = getattr(data, "at", None)
        try:
            started = datetime.fromisoformat(at) if isinstance(at, str) else None
        except ValueError:
            started = None
        return started is None or now - started > self.lapse

    def load(self, raw: Mapping[str, Any]) -> D | None:
        """The flow's data from its stored JSON, or None when it does not fit the dataclass."""
        hints = typing.get_type_hints(self.data)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(self.data):  # type: ignore[arg-type]
            if f.name in raw:
                if not _fits(raw[f.name], hints[f.name]):
                    return None
                values[f.name] = raw[f.name]
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                return None
        return self.data(**values)

    def dump(self, data: D) -> dict[str, Any]:
        """The data as stored JSON."""
        return dataclasses.asdict(data)  # type: ignore[call-overload, no-any-return]
