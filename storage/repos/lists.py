"""Bounded lists in SQL: no statement takes more than ``MAX_LIST`` values in one parameter list.

Queries over a team, a commune or everyone join on what they filter by; ids in hand (a batch of
deliveries, a block of teams) go to the database in chunks of at most ``MAX_LIST``: one
``= ANY(:array)`` parameter on PostgreSQL (one prepared statement for any size), ``IN (...)``
on SQLite. ``tests/test_scale_queries.py`` checks every statement the reports and the worker run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ARRAY, Integer, any_, literal

MAX_LIST = 500

T = TypeVar("T")


def chunks(items: Sequence[T], size: int | None = None) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size`` (``MAX_LIST``) items."""
    step = size or MAX_LIST
    for start in range(0, len(items), step):
        yield list(items[start : start + step])


def among(column: Any, ids: Sequence[int], pg: bool) -> Any:
    """``column IN ids`` for at most ``MAX_LIST`` ids; on PostgreSQL ``= ANY(array)``."""
    if len(ids) > MAX_LIST:
        raise ValueError(f"{len(ids)} ids in one statement; split them with chunks()")
    if pg:
        return column == any_(literal(list(ids), ARRAY(Integer)))
    return column.in_(list(ids))


def is_pg(session: Any) -> bool:
    """Whether ``session`` talks to PostgreSQL."""
    return bool(session.get_bind().dialect.name == "postgresql")
