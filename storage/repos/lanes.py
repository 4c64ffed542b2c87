"""The pace of each sending lane shared by every process: a schedule of send slots per lane.

Virtual scheduling (GCRA): a lane's row holds ``next_at``, the time of its next free slot. A
send reserves it in one atomic statement, which moves ``next_at`` on by one interval
(``n / rate``), then waits for its slot. A process that wakes late only sends its own message
late; the lane's schedule stays at ``rate`` as long as someone reserves. The schedule never
starts further back than ``allowance`` before now, so an idle lane (or a schedule fallen
behind) sends at most ``allowance * rate`` more at once; and a slot is only reserved when it is
at most ``horizon`` ahead, so a pause asked by the platform (``hold``: ``next_at`` moves to its
end) catches at most a horizon's worth of slots already handed out. The database's clock is
used, so processes on several machines agree. PostgreSQL only: one SQLite file is served by
one process, which paces itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_RESERVE = text(
    """
    WITH cur AS (
        SELECT lane, clock_timestamp() AS now,
               GREATEST(next_at, clock_timestamp()
                        - make_interval(secs => CAST(:allowance AS float8))) AS first
        FROM send_lanes WHERE lane = :lane FOR UPDATE
    ), fit AS (
        SELECT lane, first,
               LEAST(CAST(:most AS int), 1 + floor(
                   (EXTRACT(EPOCH FROM now - first)::float8 + CAST(:horizon AS float8))
                   * CAST(:rate AS float8))::int) AS n
        FROM cur WHERE first <= now + make_interval(secs => CAST(:horizon AS float8))
    ), taken AS (
        UPDATE send_lanes AS l
        SET next_at = fit.first + make_interval(secs => fit.n / CAST(:rate AS float8))
        FROM fit WHERE l.lane = fit.lane
        RETURNING fit.n, fit.first
    )
    SELECT n, EXTRACT(EPOCH FROM first - clock_timestamp())::float8 AS wait FROM taken
    UNION ALL
    SELECT 0, EXTRACT(EPOCH FROM first - now)::float8 - CAST(:horizon AS float8) FROM cur
    WHERE first > now + make_interval(secs => CAST(:horizon AS float8))
    """
)
_NEW = text(
    "INSERT INTO send_lanes (lane, next_at) VALUES (:lane, clock_timestamp())"
    " ON CONFLICT (lane) DO NOTHING"
)
_HOLD = text(
    """
    INSERT INTO send_lanes AS l (lane, next_at)
    VALUES (:lane, clock_timestamp() + make_interval(secs => CAST(:seconds AS float8)))
    ON CONFLICT (lane) DO UPDATE SET next_at = GREATEST(l.next_at, EXCLUDED.next_at)
    """
)


@dataclass(frozen=True)
class Slot:
    """``granted`` sends reserved, the first ``wait`` seconds from now (at once when ≤ 0) and
    the others one interval apart; none granted: ask again in ``wait`` seconds."""

    granted: int
    wait: float


class LaneRepo:
    """Send slots of the sending lanes."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def reserve(
        self, lane: str, rate: float, most: int = 1, *, allowance: float, horizon: float
    ) -> Slot:
        """Reserve the next slots of ``lane`` (``rate`` sends per second): as many as start
        within ``horizon`` seconds, at most ``most``, and at least one if the next slot does."""
        params = {
            "lane": lane,
            "rate": rate,
            "most": max(1, most),
            "allowance": allowance,
            "horizon": horizon,
        }
        for _ in range(2):
            row = (await self.session.execute(_RESERVE, params)).one_or_none()
            if row is not None:
                return Slot(int(row.n), float(row.wait) if row.n else max(0.0, float(row.wait)))
            await self.session.execute(_NEW, {"lane": lane})  # a new lane: its first slot is now
        raise RuntimeError(f"send lane {lane} vanished")

    async def hold(self, lane: str, seconds: float) -> None:
        """The platform asked every sender of ``lane`` to pause ``seconds``: no slot before."""
        await self.session.execute(_HOLD, {"lane": lane, "seconds": max(0.0, seconds)})
