"""Conversation state and offered buttons."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Integer,
    String,
    Table,
    bindparam,
    column,
    delete,
    event,
    insert,
    select,
    update,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction, make_transient_to_detached
from sqlalchemy.orm.exc import StaleDataError

from storage.models import ConversationState, OfferedButton, utcnow
from storage.repos.lists import among, chunks, is_pg

TOKEN_BYTES = 6  # 8 base64url characters; a token is never more than 16
PENDING = "offered_buttons"  # Session.info: offered rows of this transaction not yet written
STATES = cast(Table, ConversationState.__table__)
OFFERS = cast(Table, OfferedButton.__table__)
WRITTEN = ("flow", "data", "last_buttons", "attrs")  # what a turn may change in a state


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

    async def load(self, user_ids: Iterable[int]) -> dict[int, ConversationState]:
        """The states of the users of a batch of turns, for ``save`` to write back.

        Plain SQL: one SELECT per chunk of ids, and one INSERT for the users who have none yet
        (a new state is written at once, so that everything the turn does to it is a versioned
        UPDATE). The objects are detached from the session: the ORM neither tracks nor flushes
        them (a handler may still ``session.delete`` one, which attaches it)."""
        ids = list(dict.fromkeys(user_ids))
        pg = is_pg(self.session)
        found: dict[int, ConversationState] = {}
        for block in chunks(ids):
            result = await self.session.execute(
                select(STATES).where(among(STATES.c.user_id, block, pg))
            )
            for row in result.mappings():
                found[row["user_id"]] = _detached(dict(row))
        now = utcnow()
        missing: dict[int, dict[str, Any]] = {
            i: {"user_id": i, "flow": None, "data": {}, "last_buttons": [], "attrs": {}}
            | {"version": 1, "updated_at": now}
            for i in ids
            if i not in found
        }
        if missing:
            await self.session.execute(insert(STATES), list(missing.values()))
            found.update((i, _detached(row)) for i, row in missing.items())
        return found

    async def save(self, states: Sequence[ConversationState], now: datetime) -> None:
        """Write back states from ``load``, each only if nobody wrote it since (its version).

        One statement for all of them: an UPDATE joined with a VALUES list on PostgreSQL, an
        executemany UPDATE on SQLite (whose row count is the total). When a row was written
        meanwhile (another process served the same user), nothing is kept: StaleDataError, and
        the caller runs the turn again from the new state."""
        if not states:
            return
        rows = [
            {"uid": s.user_id, "seen": s.version} | {k: getattr(s, k) for k in WRITTEN}
            for s in states
        ]
        if len(rows) == 1 or not is_pg(self.session):
            statement = (
                update(STATES)
                .where(STATES.c.user_id == bindparam("uid"), STATES.c.version == bindparam("seen"))
                .values(
                    {k: bindparam(k) for k in WRITTEN}
                    | {"version": STATES.c.version + 1, "updated_at": now}
                )
            )
            result = await self.session.execute(statement, rows if len(rows) > 1 else rows[0])
            written = int(getattr(result, "rowcount", 0) or 0)
        else:
            written = 0
            for block in chunks(rows):
                given = values(
                    column("uid", Integer),
                    column("seen", Integer),
                    column("flow", String),
                    column("data", JSON),
                    column("last_buttons", JSON),
                    column("attrs", JSON),
                    name="given",
                ).data([tuple(r[k] for k in ("uid", "seen", *WRITTEN)) for r in block])
                result = await self.session.execute(
                    update(STATES)
                    .where(STATES.c.user_id == given.c.uid, STATES.c.version == given.c.seen)
                    .values(
                        {k: given.c[k] for k in WRITTEN}
                        | {"version": STATES.c.version + 1, "updated_at": now}
                    )
                    .returning(STATES.c.user_id)
                )
                written += len(result.all())
        if written != len(rows):
            raise StaleDataError(
                f"conversation state: {len(rows) - written} of {len(rows)} written meanwhile"
            )
        for state in states:
            state.version += 1
            state.updated_at = now

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


def _detached(row: dict[str, Any]) -> ConversationState:
    """A state object for a row read with plain SQL, as if loaded and then detached."""
    state = ConversationState(**row)
    make_transient_to_detached(state)
    return state


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
