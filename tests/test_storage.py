"""Repositories on real SQLite and real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from storage.db import Database
from storage.models import ConversationState, User, utcnow
from storage.repos.conversation import ConversationRepo
from storage.repos.delivery import SeenEventRepo, WebOutboxRepo
from storage.repos.users import UserRepo


async def _seen(session: AsyncSession, channel: str, external_id: str, name: str | None) -> User:
    """The user of one sender, found or created (``UserRepo.seen_many`` for one)."""
    return (await UserRepo(session).seen_many([(channel, external_id, name)]))[
        (channel, external_id)
    ]


async def test_users_are_keyed_by_channel_and_id(any_db: Database) -> None:
    async with any_db.transaction() as s:
        a = await _seen(s, "zalo", "abc", "Ba")
        b = await _seen(s, "telegram", "abc", "Ba")
        again = await _seen(s, "zalo", "abc", "Ba")
    assert a.id != b.id
    assert again.id == a.id
    assert a.display_name is None  # no name kept before consent


async def test_display_name_kept_after_consent(any_db: Database) -> None:
    async with any_db.transaction() as s:
        user = await _seen(s, "web", "x" * 20, "Ba")
        user.consent_at = utcnow()
    async with any_db.transaction() as s:
        user = await _seen(s, "web", "x" * 20, "Bác Ba")
    assert user.display_name == "Bác Ba"
    assert user.last_seen.tzinfo is not None


async def test_unreachable_is_cleared_when_the_user_writes_again(any_db: Database) -> None:
    async with any_db.transaction() as s:
        user = await _seen(s, "telegram", "1", None)
        await UserRepo(s).mark_unreachable(user.id)
    async with any_db.transaction() as s:
        assert (await UserRepo(s).get(user.id)).unreachable_at is not None  # type: ignore[union-attr]
        await _seen(s, "telegram", "1", None)
    async with any_db.transaction() as s:
        assert (await UserRepo(s).get(user.id)).unreachable_at is None  # type: ignore[union-attr]


async def test_offered_buttons_belong_to_one_user(any_db: Database) -> None:
    async with any_db.transaction() as s:
        u1 = await _seen(s, "web", "u" * 16, None)
        u2 = await _seen(s, "web", "v" * 16, None)
        tokens = await ConversationRepo(s).offer(u1.id, ["menu:ask", "lesson:list"])
    async with any_db.transaction() as s:
        repo = ConversationRepo(s)
        assert await repo.payload(u1.id, tokens[1]) == "lesson:list"
        assert await repo.payload(u2.id, tokens[1]) is None
        assert await repo.payload(u1.id, "nope") is None
        assert await repo.payload(u1.id, "") is None
        assert await repo.forget_offers_before(utcnow() + timedelta(seconds=1)) == 2


async def test_offers_are_written_together_at_commit_and_only_then(any_db: Database) -> None:
    async with any_db.transaction() as s:
        users = [await _seen(s, "web", f"{i:016d}", None) for i in range(5)]
    inserts: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OFFERED_BUTTONS"):
            inserts.append(statement)

    event.listen(any_db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with any_db.transaction() as s:
            repo = ConversationRepo(s)
            tokens = [await repo.offer(u.id, ["a:1", "a:2", "a:3"]) for u in users]
            assert inserts == []  # nothing written before the commit...
        assert len(inserts) == 1  # ...then every offer in one statement
        with pytest.raises(RuntimeError):
            async with any_db.transaction() as s:
                (lost,) = await ConversationRepo(s).offer(users[0].id, ["b:1"])
                raise RuntimeError("the turn failed")
        async with any_db.transaction() as s:
            repo = ConversationRepo(s)
            (mine,) = await repo.offer(users[1].id, ["c:1"])
            assert await repo.payload(users[1].id, mine) == "c:1"  # read in its transaction
    finally:
        event.remove(any_db.engine.sync_engine, "before_cursor_execute", seen)
    async with any_db.transaction() as s:
        repo = ConversationRepo(s)
        for user, offered in zip(users, tokens, strict=True):
            assert await repo.payload(user.id, offered[2]) == "a:3"
        assert await repo.payload(users[0].id, lost) is None  # rolled back, never offered
        assert await repo.payload(users[1].id, mine) == "c:1"


async def test_state_roundtrip_and_optimistic_concurrency(any_db: Database) -> None:
    async with any_db.transaction() as s:
        user = await _seen(s, "web", "w" * 16, None)
        state = await ConversationRepo(s).state(user.id)
        state.flow = "lesson"
        state.data = {"skill": "sk_spot_phishing", "step": "s1"}
    # two sessions read the same version; the second writer must fail
    s1 = any_db.sessions()
    s2 = any_db.sessions()
    try:
        a = await s1.get(ConversationState, user.id)
        b = await s2.get(ConversationState, user.id)
        assert a is not None and b is not None
        a.data = {"step": "s2"}
        await s1.commit()
        b.data = {"step": "s3"}
        with pytest.raises(StaleDataError):
            await s2.commit()
    finally:
        await s1.close()
        await s2.close()
    async with any_db.transaction() as s:
        state = await ConversationRepo(s).state(user.id)
        assert state.data == {"step": "s2"}


async def test_seen_events_dedupe_across_sessions(any_db: Database) -> None:
    async with any_db.transaction() as s:
        assert await SeenEventRepo(s).first_time("zalo", "m1")
    async with any_db.transaction() as s:
        assert not await SeenEventRepo(s).first_time("zalo", "m1")
        assert await SeenEventRepo(s).first_time("telegram", "m1")


async def test_web_outbox_is_taken_once_in_order(any_db: Database) -> None:
    async with any_db.transaction() as s:
        await WebOutboxRepo(s).put("p" * 16, [{"text": "1"}, {"text": "2"}])
    async with any_db.transaction() as s:
        assert [r["text"] for r in await WebOutboxRepo(s).take("p" * 16)] == ["1", "2"]
    async with any_db.transaction() as s:
        assert await WebOutboxRepo(s).take("p" * 16) == []


async def test_concurrent_first_contact_creates_one_user(any_db: Database) -> None:
    from sqlalchemy import func, select
    from sqlalchemy.exc import IntegrityError

    from storage.models import User

    async def touch() -> None:
        for _ in range(5):
            try:
                async with any_db.transaction() as s:
                    await _seen(s, "web", "c" * 16, None)
                return
            except IntegrityError:
                await asyncio.sleep(0.01)

    await asyncio.gather(*(touch() for _ in range(5)))
    async with any_db.transaction() as s:
        assert (await s.execute(select(func.count(User.id)))).scalar_one() == 1


async def test_housekeeping_removes_only_old_rows(any_db: Database) -> None:
    from sqlalchemy import func, select, update

    from bot.core.housekeeping import clean_once
    from storage.models import OfferedButton, SeenEvent

    async with any_db.transaction() as s:
        user = await _seen(s, "web", "h" * 16, None)
        old, new = await ConversationRepo(s).offer(user.id, ["a:1", "a:2"])
        await SeenEventRepo(s).first_time("zalo", "old")
    async with any_db.transaction() as s:
        long_ago = utcnow() - timedelta(days=90)
        await s.execute(
            update(OfferedButton).where(OfferedButton.token == old).values(created_at=long_ago)
        )
        await s.execute(update(SeenEvent).values(seen_at=long_ago))
    assert await clean_once(any_db) == 1
    async with any_db.transaction() as s:
        assert await ConversationRepo(s).payload(user.id, new) == "a:2"
        assert (await s.execute(select(func.count(SeenEvent.id)))).scalar_one() == 0


def test_pgbouncer_in_the_url_turns_off_prepared_statement_caches() -> None:
    from sqlalchemy.pool import NullPool

    db = Database("postgresql+asyncpg://bot@pgbouncer:6432/trolyso?pgbouncer=1")
    assert "pgbouncer" not in db.url.query  # not passed on to asyncpg
    assert isinstance(db.engine.pool, NullPool)
    plain = Database("postgresql+asyncpg://bot@db:5432/trolyso")
    assert not isinstance(plain.engine.pool, NullPool)


async def test_pgbouncer_settings_work_on_postgres(pg_url: str) -> None:
    from sqlalchemy import text

    db = Database(f"{pg_url}?pgbouncer=1")
    try:
        for _ in range(3):  # no prepared statement is kept: each transaction prepares its own
            async with db.transaction() as session:
                assert await session.scalar(text("SELECT 41 + 1")) == 42
    finally:
        await db.dispose()
