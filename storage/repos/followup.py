"""A team's notes on its citizens (and, in ``threads``, follow-up between a member and a citizen).

A note is read only together with the citizen's current team: a note written by team A is
never returned once the citizen belongs to team B, and never to a member of team B.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import TeamMembership, utcnow
from storage.models.followup import NOTE_LENGTH, CitizenNote
from storage.repos.scope import Scope, of_citizens

_LONG_NUMBER = re.compile(r"\d[\d .-]{7,}\d")  # an ID or phone number: 9 digits or more


def clean_note(text: str) -> str | None:
    """A note as stored (one line, trimmed), "" to delete it, or None when it is refused: too
    long, or carrying a long number (an ID card or phone number does not belong in a note)."""
    note = " ".join(text.split())
    if len(note) > NOTE_LENGTH:
        return None
    if any(sum(c.isdigit() for c in m.group()) >= 9 for m in _LONG_NUMBER.finditer(note)):
        return None
    return note


class NoteRepo:
    """Notes of a team on its citizens."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int, team_id: int) -> CitizenNote | None:
        """The team's note on this citizen."""
        return (
            await self.session.execute(
                select(CitizenNote).where(
                    CitizenNote.user_id == user_id, CitizenNote.team_id == team_id
                )
            )
        ).scalar_one_or_none()

    async def write(
        self, user_id: int, team_id: int, text: str, by: int, now: datetime | None = None
    ) -> bool:
        """Set the team's note on a citizen ("" deletes it); False when the text is refused."""
        note = clean_note(text)
        if note is None:
            return False
        existing = await self.get(user_id, team_id)
        if not note:
            if existing is not None:
                await self.session.delete(existing)
                await self.session.flush()
            return True
        if existing is None:
            existing = CitizenNote(user_id=user_id, team_id=team_id)
            self.session.add(existing)
        existing.text, existing.written_by, existing.written_at = note, by, now or utcnow()
        await self.session.flush()
        return True

    async def of_citizens(self, teams: Scope) -> dict[int, str]:
        """Citizen id -> their current team's note, for the citizens of ``teams``."""
        query = select(CitizenNote.user_id, CitizenNote.text).select_from(CitizenNote)
        query = of_citizens(query, CitizenNote.user_id, teams).where(
            TeamMembership.team_id == CitizenNote.team_id
        )
        return {user_id: text for user_id, text in await self.session.execute(query)}

    async def about(self, user_id: int) -> list[CitizenNote]:
        """Every note on this person, whatever team wrote it (their own data view)."""
        result = await self.session.execute(
            select(CitizenNote).where(CitizenNote.user_id == user_id).order_by(CitizenNote.id)
        )
        return list(result.scalars())

    async def forget(self, user_id: int) -> None:
        """Delete every note on this person."""
        await self.session.execute(delete(CitizenNote).where(CitizenNote.user_id == user_id))
