"""Dashboard sign-in: issue and redeem one-time links, open, find and revoke sessions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DashboardAttempt, DashboardLink, DashboardSession


def digest(token: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class DashboardRepo:
    """One-time links and browser sessions; only token hashes reach the database."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def issue_link(self, user_id: int, now: datetime, valid: timedelta) -> str:
        """A new one-time link token for ``user_id`` (returned once, stored hashed)."""
        token = secrets.token_urlsafe(32)
        link = DashboardLink(
            token_hash=digest(token), user_id=user_id, created_at=now, expires_at=now + valid
        )
        self.session.add(link)
        await self.session.flush()
        return token

    async def redeem_link(self, token: str, now: datetime) -> int | None:
        """The user of an unused, unexpired link, marking it used; None otherwise.

        One UPDATE checks and uses the link, so two redemptions of the same link (even by two
        processes at once) cannot both succeed.
        """
        result = await self.session.execute(
            update(DashboardLink)
            .where(
                DashboardLink.token_hash == digest(token),
                DashboardLink.used_at.is_(None),
                DashboardLink.expires_at > now,
            )
            .values(used_at=now)
            .returning(DashboardLink.user_id)
        )
        return result.scalar_one_or_none()

    async def attempt(self, client: str, now: datetime, window: timedelta) -> int:
        """Record a redemption by ``client``; how many it made within ``window`` (this one too)."""
        self.session.add(DashboardAttempt(client=client, at=now))
        await self.session.flush()
        count = await self.session.scalar(
            select(func.count())
            .select_from(DashboardAttempt)
            .where(DashboardAttempt.client == client, DashboardAttempt.at > now - window)
        )
        return int(count or 0)

    async def open_session(self, user_id: int, now: datetime, valid: timedelta) -> str:
        """A new session for ``user_id``; returns the cookie value (stored hashed)."""
        token = secrets.token_urlsafe(32)
        self.session.add(
            DashboardSession(
                token_hash=digest(token),
                user_id=user_id,
                csrf=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + valid,
            )
        )
        await self.session.flush()
        return token

    async def find_session(self, token: str, now: datetime) -> DashboardSession | None:
        """The live (unexpired, not revoked) session of this cookie value."""
        return await self.session.scalar(
            select(DashboardSession).where(
                DashboardSession.token_hash == digest(token),
                DashboardSession.revoked_at.is_(None),
                DashboardSession.expires_at > now,
            )
        )

    async def revoke(self, token: str, now: datetime) -> None:
        """End the session of this cookie value (log out)."""
        await self.session.execute(
            update(DashboardSession)
            .where(DashboardSession.token_hash == digest(token))
            .values(revoked_at=now)
        )

    async def revoke_user(self, user_id: int, now: datetime) -> None:
        """End every session of a user (their role changed, or they were removed)."""
        await self.session.execute(
            update(DashboardSession)
            .where(DashboardSession.user_id == user_id, DashboardSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def purge(self, now: datetime, keep: timedelta) -> None:
        """Delete expired links, sessions and old attempts."""
        old = now - keep
        await self.session.execute(delete(DashboardLink).where(DashboardLink.expires_at < old))
        await self.session.execute(
            delete(DashboardSession).where(DashboardSession.expires_at < old)
        )
        await self.session.execute(delete(DashboardAttempt).where(DashboardAttempt.at < old))
