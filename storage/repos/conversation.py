"""Conversation state and offered buttons."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from storage.models import ConversationState, OfferedButton, utcnow
from storage.repos.lists import among, chunks, is_pg

TOKEN_BYTES = 6  # 8 base64url characters; a token is never more than 16
PENDING = "offered_buttons"  # Session.info: offered rows of this transaction not yet written
STATES = cast(Table, ConversationState.__table__)
OFFERS = cast(Table, OfferedButton.__table__)


def new_token() -> str:
    """A short random button token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


class ConversationRepo:
    """Per-user state and the buttons offered to each user."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def state(self, user_id: int) -> ConversationState:
        """The user's state, created empty when missing."""
        state = await self.session.get(ConversationState, user_id)
        if state is None:
            state = ConversationState(user_id=user_id, flow=None, data={}, last_buttons=[])
            self.session.add(state)
            await self.session.flush()
        return state

    async def states(self, user_ids: Iterable[int]) -> dict[int, ConversationState]:
        """The states of several users (one query), created empty when missing."""
        ids = list(dict.fromkeys(user_ids))
        found: dict[int, ConversationState] = {}
        for block in chunks(ids):
            result = await self.session.execute(
                select(ConversationState).where(ConversationState.user_id.in_(block))
            )
            found.update((state.user_id, state) for state in result.scalars())
        missing = [
            ConversationState(user_id=i, flow=None, data={}, last_buttons=[])
            for i in ids
            if i not in found
        ]
        if missing:
            self.session.add_all(missing)
            await self.session.flush()
            found.update((state.user_id, state) for state in missing)
        return found

    async def remember(self, last_buttons: Mapping[int, list[Any]], now: datetime) -> None:
        """Set the last turn's buttons of users outside their own turn (a broadcast, a push).

        Plain SQL, no read first: one UPDATE per distinct list of buttons, which also moves
        each state's ``version`` on, so a turn of one of these users that read its state before
        fails its versioned write and runs again on top of this one (two writers never both
        write from the same version). Missing states are created; one created meanwhile by
        another process makes the INSERT fail, and the caller's transaction is retried.
        """
        groups: dict[str, tuple[list[Any], list[int]]] = {}
        for user_id, buttons in last_buttons.items():
            groups.setdefault(json.dumps(buttons), (buttons, []))[1].append(user_id)
        pg = is_pg(self.session)
        missing: list[dict[str, Any]] = []
        for buttons, ids in groups.values():
            found: set[int] = set()
            for block in chunks(ids):
                result = await self.session.execute(
                    update(STATES)
                    .where(among(STATES.c.user_id, block, pg))
                    .values(last_buttons=buttons, version=STATES.c.version + 1, updated_at=now)
                    .returning(STATES.c.user_id)
                )
                found.update(result.scalars())
            missing.extend(
                {"user_id": i, "flow": None, "data": {}, "last_buttons": buttons, "attrs": {}}
                | {"version": 1, "updated_at": now}
                for i in ids
                if i not in found
            )
        if missing:
            await self.session.execute(insert(STATES), missing)

    async def offer(self, user_id: int, payloads: Iterable[str]) -> list[str]:
        """Record buttons offered to a user; returns one token per payload, in order.

        The rows are written when the transaction commits (or before this repository reads
        offers), all of the transaction's in one INSERT: a batch of turns offers hundreds.
        """
        now = utcnow()
        tokens = []
        pending = self.session.sync_session.info.setdefault(PENDING, [])
        for payload in payloads:
            tokens.append(token := new_token())
            pending.append(
                {"token": token, "user_id": user_id, "payload": payload, "created_at": now}
            )
        return tokens

    async def payload(self, user_id: int, token: str) -> str | None:
        """The payload behind a token, only if that token was offered to this user."""
        return (await self.payloads([(user_id, token)])).get((user_id, token))

    async def payloads(self, offers: Iterable[tuple[int, str]]) -> dict[tuple[int, str], str]:
        """``payload`` for several (user id, token) at once (one query); unknown ones are absent."""
        wanted = {(u, t) for u, t in offers if t and len(t) <= 16}
        if not wanted:
            return {}
        await self.session.run_sync(_write_offers)
        found: dict[tuple[int, str], str] = {}
        for block in chunks(sorted({t for _, t in wanted})):
            result = await self.session.execute(
                select(OfferedButton.user_id, OfferedButton.token, OfferedButton.payload).where(
                    OfferedButton.token.in_(block)
                )
            )
            found.update(((u, t), p) for u, t, p in result.all() if (u, t) in wanted)
        return found

    async def forget_offers_before(self, cutoff: datetime) -> int:
        """Delete offered buttons older than ``cutoff``; returns how many."""
        result = await self.session.execute(
            delete(OfferedButton).where(OfferedButton.created_at < cutoff)
        )
        return int(getattr(result, "rowcount", 0) or 0)


@event.listens_for(Session, "before_commit")
def _write_offers(session: Session) -> None:
    """Write the transaction's offered buttons, in one INSERT (as it commits, or before a read)."""
    rows: list[dict[str, Any]] | None = session.info.pop(PENDING, None)
    if rows:
        session.execute(insert(OFFERS), rows)  # the table's, not the ORM's (no flush first)


@event.listens_for(Session, "after_soft_rollback")
def _forget_offers(session: Session, previous: SessionTransaction) -> None:
    """Offers of a transaction rolled back were never made (a savepoint's are kept: harmless)."""
    if previous.parent is None and not previous.nested:
        session.info.pop(PENDING, None)
