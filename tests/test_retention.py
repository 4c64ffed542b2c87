"""Storage hygiene (#19): finished deliveries and old question log rows pruned by age, in
batches, with every report that counts them unchanged; the work index covers unfinished rows."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from bot.config import ConfigError, RetentionConfig, load_config
from bot.core.housekeeping import clean_files, prune_once
from storage.db import Database
from storage.models import Broadcast, BroadcastDelivery, QuestionLog
from storage.repos.answers import AnswerRepo
from storage.repos.broadcasts import BroadcastRepo
from storage.repos.files import FileRepo
from tests.broadcast_helpers import MORNING, lesson_broadcast, village

NOW = MORNING + timedelta(days=400)
D = BroadcastDelivery


async def _finish(db: Database, broadcast_id: int, ids: list[int], days_ago: float) -> None:
    """End a broadcast ``days_ago`` with a mix of outcomes (one row left ``sending``)."""
    states = [
        ("sent", None),
        ("sent", None),
        ("failed", "error"),
        ("skipped", "opted_out"),
        ("skipped", "cancelled"),
        ("sending", None),
    ]
    async with db.transaction() as s:
        for uid, (state, reason) in zip(ids, states * 2, strict=False):
            await s.execute(
                update(D)
                .where(D.broadcast_id == broadcast_id, D.user_id == uid)
                .values(state=state, reason=reason)
            )
        ended = NOW - timedelta(days=days_ago)
        await s.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id)
            .values(status="cancelled", finished_at=ended)
        )


async def _questions(db: Database, user_id: int) -> None:
    """Question log rows 500, 200, 20 and 1 days old: answered, fell back, 👎."""
    async with db.transaction() as s:
        for days in (500, 200, 20, 1):
            at = NOW - timedelta(days=days)
            for outcome, feedback in (("answer", None), ("fallback", None), ("answer", "down")):
                s.add(
                    QuestionLog(
                        user_id=user_id,
                        channel="rec",
                        text=f"hỏi {days} {outcome}",
                        normalised=f"hoi {days} {outcome}",
                        outcome=outcome,
                        entry_id="e1" if outcome == "answer" else None,
                        feedback=feedback,
                        created_at=at,
                    )
                )


Shown = tuple[list[dict[str, int]], object, list[tuple[int, str]]]


async def _reports(db: Database, broadcasts: list[int]) -> Shown:
    """What the broadcast summaries and the unanswered views show."""
    since = NOW - timedelta(days=30)
    async with db.transaction() as s:
        repo, answers = BroadcastRepo(s), AnswerRepo(s)
        tallies = [await repo.tally(b) for b in broadcasts]
        counts = await answers.unanswered_counts(since, 50)
        listed = [(q.id, q.text) for q in await answers.unanswered(since=since, limit=100)]
    return tallies, counts, listed


async def _count(db: Database, query: object) -> int:
    async with db.transaction() as s:
        return int((await s.execute(query)).scalar_one())  # type: ignore[call-overload]


async def test_pruning_keeps_reports_and_drops_only_old_rows(
    any_db: Database, tmp_path: Path
) -> None:
    await _work_index_covers_only_pending_rows(any_db)
    await _expired_files_go_with_their_rows(any_db, tmp_path / "files")
    _team, ids = await village(any_db, 12)
    old = await lesson_broadcast(any_db, _team)
    recent = await lesson_broadcast(any_db, _team)
    await _finish(any_db, old, ids, days_ago=120)
    await _finish(any_db, recent, ids, days_ago=10)
    await _questions(any_db, ids[0])
    before = await _reports(any_db, [old, recent])
    assert before[0][0]["sent"] == 4 and before[0][0]["skipped:opted_out"] == 2

    keep = RetentionConfig(delivery_days=90, question_days=180, batch_size=3)
    deliveries, questions = await prune_once(any_db, keep, now=NOW)
    assert (deliveries, questions) == (10, 6)  # 12 rows minus the 2 still "sending"; 2 ages x 3
    assert await _reports(any_db, [old, recent]) == before
    assert await prune_once(any_db, keep, now=NOW) == (0, 0)  # nothing counted twice
    assert await _reports(any_db, [old, recent]) == before

    of = select(func.count()).select_from(D).where(D.broadcast_id == old)
    assert await _count(any_db, of) == 2  # unfinished rows are never pruned
    of_recent = select(func.count()).select_from(D).where(D.broadcast_id == recent)
    assert await _count(any_db, of_recent) == 12
    oldest = select(func.min(QuestionLog.created_at))
    async with any_db.transaction() as s:
        assert (await s.execute(oldest)).scalar_one() == NOW - timedelta(days=20)
    assert await _count(any_db, select(func.count()).select_from(QuestionLog)) == 6


async def test_zero_keeps_everything(db: Database) -> None:
    team, ids = await village(db, 3)
    b = await lesson_broadcast(db, team)
    await _finish(db, b, ids, days_ago=1000)
    await _questions(db, ids[0])
    keep = RetentionConfig(delivery_days=0, question_days=0)
    assert await prune_once(db, keep, now=NOW) == (0, 0)


def test_retention_config_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("retention:\n  question_days: 7\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"retention\.question_days"):
        load_config(path, env={})
    path.write_text("retention:\n  delivery_days: 30\n  question_days: 0\n", encoding="utf-8")
    bundled = load_config(Path(__file__).parent.parent / "config.yaml", env={})
    assert bundled.retention == RetentionConfig()
    config = load_config(path, env={})
    assert (config.retention.delivery_days, config.retention.question_days) == (30, 0)


async def _expired_files_go_with_their_rows(db: Database, folder: Path) -> None:
    async with db.transaction() as s:
        repo = FileRepo(s, folder)
        old = await repo.put(b"a", "a.csv", "text/csv", timedelta(hours=1), now=NOW)
        new = await repo.put(b"b", "b.csv", "text/csv", timedelta(hours=3), now=NOW)
    assert await clean_files(db, folder, batch=5, now=NOW + timedelta(hours=2)) == 1
    assert os.listdir(folder) == [new.token]
    async with db.transaction() as s:
        assert await FileRepo(s, folder).get(old.token, now=NOW) is None
        assert await FileRepo(s, folder).get(new.token, now=NOW) is not None


async def _work_index_covers_only_pending_rows(db: Database) -> None:
    """The broadcast worker's index is partial: finished rows (most of the table) are not in it,
    and the claim's lookup uses it."""
    async with db.transaction() as s:
        if db.engine.dialect.name == "postgresql":
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_broadcast_deliveries_work'"
        else:
            sql = "SELECT sql FROM sqlite_master WHERE name = 'ix_broadcast_deliveries_work'"
        definition = str((await s.execute(text(sql))).scalar_one())
        assert "WHERE" in definition.upper() and "'pending'" in definition
        if db.engine.dialect.name == "sqlite":
            plan = await s.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM broadcast_deliveries WHERE state = "
                    "'pending' AND channel = 'rec' AND next_attempt_at <= '2030-01-01' "
                    "ORDER BY next_attempt_at, id LIMIT 50"
                )
            )
            assert "ix_broadcast_deliveries_work" in " ".join(str(r[-1]) for r in plan.all())
