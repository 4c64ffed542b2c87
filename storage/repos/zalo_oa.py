"""Zalo Official Accounts: the OA rows (tokens stay ciphertext here), their teams, OAuth
states, uploaded images, and which OA citizens are out of Zalo's 7-day window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Role, Team, TeamMembership, User
from storage.models.zalo_oa import CHANNEL, ZaloOA, ZaloOAImage, ZaloOATeam, ZaloOAuthState

__all__ = ["CHANNEL", "ZaloOARepo"]  # CHANNEL: users.channel of citizens on an OA


class ZaloOARepo:
    """Queries on Official Accounts within one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, oa_id: str) -> ZaloOA | None:
        """The OA with this Zalo id, if stored."""
        result = await self.session.execute(select(ZaloOA).where(ZaloOA.oa_id == oa_id))
        return result.scalar_one_or_none()

    async def all(self) -> list[ZaloOA]:
        """Every stored OA, oldest first."""
        result = await self.session.execute(select(ZaloOA).order_by(ZaloOA.id))
        return list(result.scalars())

    async def locked(self, oa_id: str, now: datetime, *, for_update: bool) -> ZaloOA | None:
        """The OA row, locked until the transaction ends (the refresh's single flight).

        The first statement writes the row: on SQLite that takes the database's write lock (a
        second process waits in its busy timeout), on PostgreSQL a row lock; ``for_update``
        adds ``SELECT ... FOR UPDATE`` (PostgreSQL) so the row read is the latest committed.
        """
        result = await self.session.execute(
            update(ZaloOA).where(ZaloOA.oa_id == oa_id).values(locked_at=now)
        )
        if not getattr(result, "rowcount", 0):
            return None
        query = (
            select(ZaloOA).where(ZaloOA.oa_id == oa_id).execution_options(populate_existing=True)
        )
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def save(
        self,
        oa_id: str,
        *,
        name: str,
        access_token: str,
        refresh_token: str,
        expires_at: datetime,
        now: datetime,
    ) -> ZaloOA:
        """Store a new OA or replace an existing one's tokens (already encrypted)."""
        row = await self.get(oa_id)
        if row is None:
            row = ZaloOA(oa_id=oa_id, token_version=0, created_at=now)
            self.session.add(row)
        row.name = name[:128] or row.name or ""
        row.access_token = access_token
        row.refresh_token = refresh_token
        row.expires_at = expires_at
        row.refreshed_at = now
        row.token_version = (row.token_version or 0) + 1
        row.problem = None
        await self.session.flush()
        return row

    async def remove(self, oa_id: str) -> bool:
        """Forget an OA (its team links and uploads go with it)."""
        row = await self.get(oa_id)
        if row is None:
            return False
        await self.session.execute(delete(ZaloOAImage).where(ZaloOAImage.oa_id == oa_id))
        await self.session.delete(row)
        await self.session.flush()
        return True

    async def touch(self, oa_id: str, now: datetime) -> None:
        """An event arrived for this OA (shown by ``trolyso zalo-oa list``)."""
        await self.session.execute(
            update(ZaloOA).where(ZaloOA.oa_id == oa_id).values(last_event_at=now)
        )

    async def set_problem(self, oa_id: str, problem: str | None) -> None:
        """Record (or clear) why the OA cannot be used, for the admin."""
        await self.session.execute(
            update(ZaloOA).where(ZaloOA.oa_id == oa_id).values(problem=problem)
        )

    # --- teams --------------------------------------------------------------------------

    async def link(self, oa: ZaloOA, teams: Sequence[Team]) -> None:
        """The OA serves these teams (a team served by another OA moves to this one)."""
        for team in teams:
            await self.session.execute(delete(ZaloOATeam).where(ZaloOATeam.team_id == team.id))
            self.session.add(ZaloOATeam(oa_id=oa.id, team_id=team.id))
        await self.session.flush()

    async def teams(self, oa_id: str) -> list[Team]:
        """The teams an OA serves, by commune and village."""
        result = await self.session.execute(
            select(Team)
            .join(ZaloOATeam, ZaloOATeam.team_id == Team.id)
            .join(ZaloOA, ZaloOA.id == ZaloOATeam.oa_id)
            .where(ZaloOA.oa_id == oa_id)
            .order_by(Team.commune, Team.village, Team.id)
        )
        return list(result.scalars())

    async def of_team(self, team_id: int) -> ZaloOA | None:
        """The OA that serves a team, if any."""
        result = await self.session.execute(
            select(ZaloOA)
            .join(ZaloOATeam, ZaloOATeam.oa_id == ZaloOA.id)
            .where(ZaloOATeam.team_id == team_id)
        )
        return result.scalar_one_or_none()

    # --- OAuth states -------------------------------------------------------------------

    async def add_state(
        self, state: str, verifier: str, teams: Sequence[str], now: datetime, ttl: timedelta
    ) -> None:
        """A pending permission request (the verifier already encrypted)."""
        await self.session.execute(delete(ZaloOAuthState).where(ZaloOAuthState.expires_at < now))
        self.session.add(
            ZaloOAuthState(
                state=state,
                verifier=verifier,
                teams=list(teams),
                created_at=now,
                expires_at=now + ttl,
            )
        )
        await self.session.flush()

    async def take_state(self, state: str, now: datetime) -> ZaloOAuthState | None:
        """Use a pending request once: it is deleted whether or not it is still valid."""
        result = await self.session.execute(
            delete(ZaloOAuthState)
            .where(ZaloOAuthState.state == state)
            .returning(ZaloOAuthState.verifier, ZaloOAuthState.teams, ZaloOAuthState.expires_at)
        )
        row = result.first()
        if row is None or row[2] is None:
            return None
        expires_at = row[2]
        if expires_at.tzinfo is None:  # SQLite RETURNING bypasses the column type
            from datetime import UTC

            expires_at = expires_at.replace(tzinfo=UTC)
        if expires_at < now:
            return None
        return ZaloOAuthState(
            state=state, verifier=row[0], teams=list(row[1] or []), expires_at=expires_at
        )

    # --- images -------------------------------------------------------------------------

    async def image(self, oa_id: str, digest: str, since: datetime) -> str | None:
        """The attachment id of an image uploaded to this OA after ``since``."""
        result = await self.session.execute(
            select(ZaloOAImage.attachment_id).where(
                ZaloOAImage.oa_id == oa_id,
                ZaloOAImage.digest == digest,
                ZaloOAImage.uploaded_at >= since,
            )
        )
        return result.scalar_one_or_none()

    async def save_image(self, oa_id: str, digest: str, attachment_id: str, now: datetime) -> None:
        """Remember an upload (replacing an older one of the same image)."""
        await self.session.execute(
            delete(ZaloOAImage).where(ZaloOAImage.oa_id == oa_id, ZaloOAImage.digest == digest)
        )
        self.session.add(
            ZaloOAImage(oa_id=oa_id, digest=digest, attachment_id=attachment_id, uploaded_at=now)
        )
        await self.session.flush()

    # --- the 7-day window ---------------------------------------------------------------

    async def last_interaction(self, external_id: str) -> datetime | None:
        """When a citizen on an OA last wrote (or followed), as far as we know."""
        result = await self.session.execute(
            select(User.last_seen).where(User.channel == CHANNEL, User.external_id == external_id)
        )
        return result.scalar_one_or_none()

    async def out_of_window(self, team_id: int | None, before: datetime) -> list[User]:
        """Citizens on an OA (of a team, or all) who have not written since ``before``: the OA
        may not message them; the team has to meet them in person."""
        query: Any = select(User).where(
            User.channel == CHANNEL,
            User.role == Role.CITIZEN,
            User.consent_at.is_not(None),
            User.last_seen < before,
        )
        if team_id is not None:
            query = query.join(TeamMembership, TeamMembership.user_id == User.id).where(
                TeamMembership.team_id == team_id
            )
        result = await self.session.execute(query.order_by(User.last_seen, User.id))
        return list(result.scalars())
