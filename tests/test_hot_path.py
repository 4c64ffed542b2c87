"""The hot path in plain SQL, on SQLite and PostgreSQL: a turn's state is written back only
from the version it read (the loser of two writers fails and runs again), pushes move the
version on, and a chat turn and a broadcast send cost a bounded number of statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm.exc import StaleDataError

from bot.app import App, build_app
from bot.channels.memory import MemoryChannel
from bot.config import Config
from storage.db import Database
from storage.models import utcnow
from storage.repos.conversation import ConversationRepo
from storage.repos.users import UserRepo
from tests.broadcast_helpers import Recorder, lesson_broadcast, status, village, worker
from tests.conftest import consent

# What a turn costs (counted with SQLAlchemy's before_cursor_execute; BEGIN and COMMIT are not
# statements here): the user, the state, the question log row, the offered buttons and the
# versioned state UPDATE; a 👍 has no log row but the offered button lookup and its UPDATE.
QUESTION_TURN = 5
PRESS_TURN = 6


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """The SQL statements run on ``db`` inside the block."""
    seen: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    event.listen(db.engine.sync_engine, "before_cursor_execute", statement)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", statement)


async def _users(db: Database, n: int) -> list[int]:
    async with db.transaction() as s:
        found = await UserRepo(s).seen_many([("web", f"hp{i:016d}", None) for i in range(n)])
        return [u.id for u in found.values()]


async def test_state_written_back_only_from_the_version_read(any_db: Database) -> None:
    ids = await _users(any_db, 3)
    async with any_db.transaction() as s:
        mine = await ConversationRepo(s).load(ids)  # created, version 1
    async with any_db.transaction() as s:
        theirs = await ConversationRepo(s).load(ids)
    for state in mine.values():
        state.flow, state.data = "lesson", {"step": "s2"}
    async with any_db.transaction() as s:
        await ConversationRepo(s).save(list(mine.values()), utcnow())
    theirs[ids[1]].data = {"step": "lost"}
    for stale in ([theirs[ids[1]]], list(theirs.values())):  # one row, and a batch
        with pytest.raises(StaleDataError):
            async with any_db.transaction() as s:
                await ConversationRepo(s).save(stale, utcnow())
    # A broadcast's buttons move the version on: a turn that read before must run again.
    async with any_db.transaction() as s:
        await ConversationRepo(s).remember({ids[2]: [["1", "hoc ngay", "lesson:x"]]}, utcnow())
    with pytest.raises(StaleDataError):
        async with any_db.transaction() as s:
            await ConversationRepo(s).save([mine[ids[2]]], utcnow())
    async with any_db.transaction() as s:
        now = await ConversationRepo(s).load(ids)
    assert [now[i].data for i in ids] == [{"step": "s2"}] * 3
    assert now[ids[2]].flow == "lesson"
    assert now[ids[2]].last_buttons == [["1", "hoc ngay", "lesson:x"]]
    assert [now[i].version for i in ids] == [2, 2, 3]


async def test_a_turn_costs_a_few_statements(
    any_bot: tuple[App, MemoryChannel], any_db: Database
) -> None:
    _, chat = any_bot
    await consent(chat, "u1")
    await chat.say("u1", "quên mật khẩu VNeID thì làm sao")  # first states and caches
    with counted(any_db) as question:
        replies = await chat.say("u1", "chuyển nhầm tiền cho người khác phải làm gì")
    assert replies and replies[0].buttons
    with counted(any_db) as press:
        await chat.press("u1", "👍")
    lock = 0 if any_db.is_sqlite else 1  # PostgreSQL: the citizens' turn lock (turn order)
    assert len(question) <= QUESTION_TURN + lock, question
    assert len(press) <= PRESS_TURN + lock, press


async def test_a_broadcast_send_costs_a_fraction_of_a_statement(
    any_db: Database, config: Config
) -> None:
    services = build_app(config, db=any_db).services
    team, _ = await village(any_db, 60)
    bid = await lesson_broadcast(any_db, team)
    channel = Recorder()
    with counted(any_db) as statements:
        await worker(services, channel).run_once()
    assert await status(any_db, bid) == "done"
    assert len(channel.sent) == 60
    # Per group of 20: sending, its check, the buttons (state, offers) and the results.
    assert len(statements) <= 40, statements
