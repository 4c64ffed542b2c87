"""Rows that workers claim under a lease (broadcast deliveries, nudges): what their repositories
share. A leased row has ``state`` (the states of ``storage/models/broadcasts.py``),
``claimed_by`` and ``claimed_at``; a worker holds its rows while it renews the lease."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.broadcasts import CLAIMED, PENDING, SENDING
from storage.repos.lists import among, chunks, is_pg


def rowcount(result: Any) -> int:
    """The rows an UPDATE or DELETE touched."""
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Outcome:
    """The result of one platform call (or a decision not to call), to be recorded.

    ``state`` is ``sent``, ``failed``, ``skipped`` (nudges also ``window``) or ``pending`` (try
    again at ``retry_at``; ``counted`` False when the platform only asked us to slow down).
    """

    id: int
    state: str
    reason: str | None = None
    retry_at: datetime | None = None
    counted: bool = True
    blocked_user: int | None = None


class LeasedRows:
    """The lease moves of one table of leased rows (``model``), within one session."""

    model: ClassVar[Any]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._pg = is_pg(session)

    def _among(self, column: Any, ids: Sequence[int]) -> Any:
        """``column IN ids`` (at most ``MAX_LIST`` ids; see ``storage/repos/lists.py``)."""
        return among(column, ids, self._pg)

    async def release(self, owner: str, ids: Sequence[int] | None = None) -> int:
        """Give back claimed rows not sent yet (all of this owner's when ``ids`` is None)."""
        m = self.model
        query = update(m).where(m.claimed_by == owner, m.state == CLAIMED)
        values = {"state": PENDING, "claimed_by": None, "claimed_at": None}
        if ids is None:
            return rowcount(await self.session.execute(query.values(**values)))
        released = 0
        for block in chunks(ids):
            result = await self.session.execute(
                query.where(self._among(m.id, block)).values(**values)
            )
            released += rowcount(result)
        return released

    async def renew(self, owner: str, now: datetime) -> int:
        """Extend the lease of every row this owner holds."""
        m = self.model
        result = await self.session.execute(
            update(m)
            .where(m.claimed_by == owner, m.state.in_((CLAIMED, SENDING)))
            .values(claimed_at=now)
        )
        return rowcount(result)
