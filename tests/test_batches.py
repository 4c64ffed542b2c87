"""Group commit: turns of different users that arrive together share one transaction, each still
gets its own answer and buttons, one user's turns keep their order, and one failing turn costs
the others nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.app import App
from bot.channels.memory import RICH, MemoryChannel
from bot.core.replies import Reply
from bot.nlp.matcher import Index
from storage.db import Database
from storage.models import QuestionLog, User
from tests.conftest import consent
from tests.replies import labels, texts

QUESTIONS = {
    "vneid_reset_password": "quên mật khẩu VNeID thì làm sao",
    "bank_wrong_transfer": "chuyển nhầm tiền cho người khác phải làm gì",
}


def count_commits(db: Database) -> list[int]:
    """A counter of the transactions committed on ``db`` from now on."""
    commits = [0]

    def committed(_connection: Any) -> None:
        commits[0] += 1

    event.listen(db.engine.sync_engine, "commit", committed)
    return commits


async def test_turns_arriving_together_are_committed_together(
    any_bot: tuple[App, MemoryChannel],
) -> None:
    app, chat = any_bot
    users = [f"u{i}" for i in range(24)]
    for user in users:
        await consent(chat, user)
    entries = list(QUESTIONS)
    asked = {user: entries[i % 2] for i, user in enumerate(users)}
    commits = count_commits(app.db)
    answers = await asyncio.gather(*(chat.say(u, QUESTIONS[asked[u]]) for u in users))
    assert commits[0] < len(users) / 2, "turns that arrive together share a commit"

    for user, replies in zip(users, answers, strict=True):
        entry = app.store.current.entry(asked[user])
        assert entry is not None and entry.title in texts(replies), user
        assert labels(replies)[:2] == ["👍 Có", "👎 Chưa"]

    # Every thumbs up lands on that user's own question (the row ids filled in after the
    # batch was written).
    await asyncio.gather(*(chat.press(u, "👍 Có") for u in users[::2]))
    async with app.db.transaction() as session:
        rows = (
            await session.execute(select(User.external_id, QuestionLog).join(QuestionLog))
        ).all()
    assert len(rows) == len(users)
    for external_id, row in rows:
        assert row.text == QUESTIONS[asked[external_id]]
        assert row.entry_id == asked[external_id]
        assert row.feedback == ("up" if int(external_id[1:]) % 2 == 0 else None)


async def test_one_users_turns_keep_their_order(any_bot: tuple[App, MemoryChannel]) -> None:
    app, chat = any_bot
    for user in ("a", "b", "c"):
        await consent(chat, user)
    said = [f"câu hỏi số {n} về VNeID" for n in range(6)]
    others = [chat.say(u, QUESTIONS["bank_wrong_transfer"]) for u in ("b", "c")]
    await asyncio.gather(*(chat.say("a", text) for text in said), *others)
    async with app.db.transaction() as session:
        rows = (
            await session.execute(
                select(QuestionLog.text)
                .join(User)
                .where(User.external_id == "a")
                .order_by(QuestionLog.id)
            )
        ).scalars()
        assert list(rows) == said


async def test_a_failing_turn_costs_the_others_nothing(
    any_bot: tuple[App, MemoryChannel], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, chat = any_bot
    users = [f"f{i}" for i in range(8)]
    for user in users:
        await consent(chat, user)
    search = Index.search  # the index is frozen: patch its class

    def fragile(index: Index, text: str, **kwargs: Any) -> Any:
        if "hỏng" in text:
            raise RuntimeError("a bug in one turn")
        return search(index, text, **kwargs)

    monkeypatch.setattr(Index, "search", fragile)
    said = {u: QUESTIONS["vneid_reset_password"] for u in users}
    said["f3"] = "câu này làm hỏng bot"
    results = await asyncio.gather(
        *(chat.say(u, text) for u, text in said.items()), return_exceptions=True
    )
    failed = {u for u, r in zip(users, results, strict=True) if isinstance(r, Exception)}
    assert failed == {"f3"}
    for user, replies in zip(users, results, strict=True):
        if user != "f3":
            assert isinstance(replies, list)
            assert "Quên mật khẩu" in texts(replies)
    async with app.db.transaction() as session:
        logged = (await session.execute(select(QuestionLog.text))).scalars().all()
    assert sorted(logged) == [QUESTIONS["vneid_reset_password"]] * 7


async def test_stopping_never_leaves_a_turn_waiting(app: App) -> None:
    chat = MemoryChannel(app.core, name="memory", capabilities=RICH)
    await consent(chat, "s1")
    await consent(chat, "s2")
    first = asyncio.create_task(chat.say("s1", QUESTIONS["bank_wrong_transfer"]))
    second = asyncio.create_task(chat.say("s2", QUESTIONS["bank_wrong_transfer"]))
    await asyncio.sleep(0)  # both queued; the runner has started
    runner = app.dispatcher._runner
    assert runner is not None
    runner.cancel()
    done = await asyncio.wait_for(asyncio.gather(first, second, return_exceptions=True), timeout=10)
    for outcome in done:
        assert isinstance(outcome, (list, RuntimeError, asyncio.CancelledError))
        if isinstance(outcome, list):
            assert all(isinstance(r, Reply) for r in outcome)
