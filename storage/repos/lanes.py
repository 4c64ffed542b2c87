"""The pace of each sending lane shared by every process: a token-bucket row per lane.

``take`` refills the bucket from the time since its last use and takes what it can, in one
transaction holding the row's lock, with the database's clock (processes on several machines
agree on it). PostgreSQL only: one SQLite file is served by one process, which paces itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_REFILL = text(
    """
    INSERT INTO send_lanes (lane, tokens, stamp)
    VALUES (:lane, CAST(:burst AS float8), clock_timestamp())
    ON CONFLICT (lane) DO UPDATE SET
        tokens = LEAST(CAST(:burst AS float8), send_lanes.tokens + CAST(:rate AS float8)
            * GREATEST(0.0, EXTRACT(EPOCH FROM clock_timestamp() - send_lanes.stamp))::float8),
        stamp = clock_timestamp()
    RETURNING tokens,
        GREATEST(0.0, EXTRACT(EPOCH FROM held_until - clock_timestamp()))::float8 AS held
    """
)
_TAKE = text("UPDATE send_lanes SET tokens = tokens - CAST(:n AS float8) WHERE lane = :lane")
_HOLD = text(
    """
    INSERT INTO send_lanes (lane, tokens, stamp, held_until)
    VALUES (:lane, 0, clock_timestamp(),
            clock_timestamp() + make_interval(secs => CAST(:seconds AS float8)))
    ON CONFLICT (lane) DO UPDATE SET
        tokens = 0,
        held_until = GREATEST(COALESCE(send_lanes.held_until, clock_timestamp()),
                              clock_timestamp() + make_interval(secs => CAST(:seconds AS float8)))
    """
)


@dataclass(frozen=True)
class Taken:
    """How many sends were granted, and else how long to wait before asking again."""

    granted: int
    wait: float


class LaneRepo:
    """Token buckets of the sending lanes."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, lane: str, rate: float, burst: float, most: int) -> Taken:
        """Take up to ``most`` sends from ``lane`` (``rate`` per second, at most ``burst``
        saved up)."""
        row = (
            await self.session.execute(_REFILL, {"lane": lane, "rate": rate, "burst": burst})
        ).one()
        tokens, held = float(row.tokens), float(row.held or 0.0)
        if held > 0:
            return Taken(0, held)
        granted = min(most, math.floor(tokens))
        if granted <= 0:
            return Taken(0, (1.0 - tokens) / rate)
        await self.session.execute(_TAKE, {"lane": lane, "n": granted})
        return Taken(granted, 0.0)

    async def hold(self, lane: str, seconds: float) -> None:
        """The platform asked every sender of ``lane`` to pause ``seconds``."""
        await self.session.execute(_HOLD, {"lane": lane, "seconds": max(0.0, seconds)})
