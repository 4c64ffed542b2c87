"""The broadcast worker against a recording fake channel: each message once, skips with reasons,
429 / 403 / network errors, quiet hours, and cancellation at random points."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.broadcast.timing import default_burst
from bot.config import BroadcastRates, Config
from bot.core.ports import DeliveryError, RetryAfter, Unreachable
from storage.db import Database
from storage.models import BroadcastDelivery, SkillCompletion, User
from storage.repos.broadcasts import Audience, BroadcastRepo
from storage.repos.conversation import ConversationRepo
from tests.broadcast_helpers import (
    Clock,
    Recorder,
    fast_config,
    lesson_broadcast,
    staff,
    status,
    tally,
    until_done,
    village,
    worker,
)


@pytest.fixture
async def app(config: Config, any_db: Database) -> AsyncIterator[App]:
    """The bot wired on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set."""
    application = build_app(config, db=any_db)
    yield application
    await application.stop()


def _setup(app: App) -> tuple[Recorder, Clock]:
    channel = Recorder()
    app.channels[channel.name] = channel
    clock = Clock()
    app.services.clock = clock
    return channel, clock


async def test_each_citizen_gets_the_lesson_once_with_a_learn_now_button(app: App) -> None:
    channel, _ = _setup(app)
    team, citizens = await village(app.db, 30)
    lead = await staff(app.db, team)
    bid = await lesson_broadcast(app.db, team, by=lead)
    w = worker(app.services, channel)
    await until_done(w, app.db, bid)
    counts = channel.counts()
    assert {f"u{i}" for i in range(30)} <= set(counts)
    assert all(counts[f"u{i}"] == 1 for i in range(30))
    assert (await tally(app.db, bid)) == {"sent": 30}
    # The button is a token offered to that citizen, standing for the lesson's start.
    _external, reply = next(item for item in channel.sent if item[0] == "u0")
    assert [b.label for b in reply.buttons] == ["Học ngay"]
    async with app.db.transaction() as s:
        payload = await ConversationRepo(s).payload(citizens[0], reply.buttons[0].payload)
        foreign = await ConversationRepo(s).payload(citizens[1], reply.buttons[0].payload)
    assert payload == "lesson:start:sk_spot_phishing"
    assert foreign is None
    # The lead got the report, once.
    reports = [r for user, r in channel.sent if user == "lead"]
    assert len(reports) == 1
    assert "Đã gửi: 30" in reports[0].text
    assert await status(app.db, bid) == "done"
    await w.run_once()
    assert len([1 for user, _ in channel.sent if user == "lead"]) == 1


async def test_opted_out_unreachable_and_passed_citizens_are_skipped_with_reasons(
    app: App,
) -> None:
    channel, _ = _setup(app)
    team, citizens = await village(app.db, 10)
    async with app.db.transaction() as s:
        repo = BroadcastRepo(s)
        await repo.opt_out(citizens[0])
        (await s.get(User, citizens[1])).unreachable_at = app.services.clock()  # type: ignore[union-attr]
        s.add(
            SkillCompletion(
                user_id=citizens[2], skill_id="sk_spot_phishing", channel="rec", best_score=1.0
            )
        )
    async with app.db.transaction() as s:
        (await s.get(User, citizens[0])).unreachable_at = app.services.clock()  # type: ignore[union-attr]
        repo = BroadcastRepo(s)
        missing = Audience(team_id=team, skill_id="sk_spot_phishing", only_missing=True)
        # Opted out and unreachable counts as opted out; the one who passed is not counted.
        for audience in (missing, Audience(team_id=None, skill_id="sk_spot_phishing")):
            counted = await repo.count(audience)
            assert (counted.opted_out, counted.unreachable) == (1, 1)
        assert (await repo.count(missing)).total == 9
        assert (await repo.count(Audience(team_id=None))).total == 10
    bid = await lesson_broadcast(app.db, team, only_missing=True)
    # citizen 3 opts out and citizen 4 passes after the broadcast was created
    async with app.db.transaction() as s:
        await BroadcastRepo(s).opt_out(citizens[3])
        s.add(
            SkillCompletion(
                user_id=citizens[4], skill_id="sk_spot_phishing", channel="rec", best_score=1.0
            )
        )
    await until_done(worker(app.services, channel), app.db, bid)
    assert set(channel.counts()) == {f"u{i}" for i in range(5, 10)}
    assert await tally(app.db, bid) == {
        "sent": 5,
        "skipped": 4,
        "skipped:opted_out": 2,
        "skipped:unreachable": 1,
        "skipped:already_passed": 1,
    }  # citizen 2 had passed before: not in the audience at all


async def test_429_pauses_the_channel_and_the_message_goes_once_later(app: App) -> None:
    channel, _ = _setup(app)
    team, _ = await village(app.db, 12)
    channel.errors["u3"] = [RetryAfter(0.3)]
    bid = await lesson_broadcast(app.db, team)
    w = worker(app.services, channel)
    await until_done(w, app.db, bid)
    assert channel.counts()["u3"] == 1
    assert sum(channel.counts().values()) == 12
    limited = next(t for t, user, what in channel.calls if what == "RetryAfter")
    # calls already started went on; no call started on the channel for the next 0.3 s
    after = [t for t, _, what in channel.calls if t > limited + 0.005]
    assert after and min(after) - limited >= 0.29
    async with app.db.transaction() as s:
        row = (
            await s.execute(
                select(BroadcastDelivery).where(
                    BroadcastDelivery.broadcast_id == bid,
                    BroadcastDelivery.user_id
                    == select(User.id).where(User.external_id == "u3").scalar_subquery(),
                )
            )
        ).scalar_one()
    assert row.attempts == 1  # the 429 did not count as a failed try


async def test_403_marks_the_citizen_unreachable_and_later_broadcasts_skip_them(
    app: App,
) -> None:
    channel, _ = _setup(app)
    team, citizens = await village(app.db, 5)
    channel.errors["u2"] = [Unreachable("blocked")]
    first = await lesson_broadcast(app.db, team)
    w = worker(app.services, channel)
    await until_done(w, app.db, first)
    assert await tally(app.db, first) == {"sent": 4, "failed": 1, "failed:blocked": 1}
    async with app.db.transaction() as s:
        assert (await s.get(User, citizens[2])).unreachable_at is not None  # type: ignore[union-attr]
    second = await lesson_broadcast(app.db, team, skill="sk_qr_payment")
    await until_done(w, app.db, second)
    assert await tally(app.db, second) == {"sent": 4, "skipped": 1, "skipped:unreachable": 1}
    assert len([1 for t, user, _ in channel.calls if user == "u2"]) == 1


async def test_network_errors_are_retried_a_bounded_number_of_times(app: App) -> None:
    channel, _ = _setup(app)
    team, _ = await village(app.db, 4)
    channel.errors["u0"] = [DeliveryError("timeout"), DeliveryError("502")]  # then fine
    channel.errors["u1"] = [DeliveryError("down")] * 10  # never fine
    bid = await lesson_broadcast(app.db, team)
    await until_done(worker(app.services, channel, fast_config(max_attempts=3)), app.db, bid)
    assert channel.counts() == {"u0": 1, "u2": 1, "u3": 1}
    assert len([1 for _, user, _ in channel.calls if user == "u1"]) == 3
    assert await tally(app.db, bid) == {"sent": 3, "failed": 1, "failed:error": 1}


async def test_quiet_hours_pause_delivery_and_it_resumes_after(app: App) -> None:
    channel, clock = _setup(app)
    team, _ = await village(app.db, 60)
    config = fast_config(
        quiet_start="21:00", quiet_end="07:00", rate_per_second=BroadcastRates(other=100)
    )
    clock.set_local(20, 59)
    bid = await lesson_broadcast(app.db, team, at=clock())
    w = worker(app.services, channel, config)

    def night_falls(n: int) -> None:
        if n == 15:
            clock.set_local(21, 0)

    channel.on_send = night_falls
    await w.run_once()
    sent_before_night = len(channel.sent)
    assert 15 <= sent_before_night < 40  # stopped soon after 21:00 (calls in flight finish)
    for hour, minute in ((23, 30), (3, 0), (6, 59)):
        clock.set_local(hour, minute)
        if hour < 12:
            clock.shift(timedelta(days=1))
        await w.run_once()
        assert len(channel.sent) == sent_before_night, (hour, minute)
    async with app.db.transaction() as s:
        claimed = (
            (
                await s.execute(
                    select(BroadcastDelivery.state).where(BroadcastDelivery.broadcast_id == bid)
                )
            )
            .scalars()
            .all()
        )
    assert set(claimed) <= {"sent", "pending"}  # nothing left claimed during the night
    clock.set_local(7, 0)
    clock.shift(timedelta(days=1))
    await until_done(w, app.db, bid)
    assert sorted(channel.counts().values()) == [1] * 60


async def test_cancelled_worker_restarted_delivers_every_message_exactly_once(app: App) -> None:
    """Many runs: a worker cut after a random number of sends, or at a random moment, with a
    random pace and batch size; a new worker finishes. Nobody gets two copies, nobody none."""
    rng = random.Random(8)
    runs = 40 if app.db.is_sqlite else 15
    for run in range(runs):
        channel = Recorder(delay=rng.choice([0.0, 0.0005]))
        app.channels[channel.name] = channel
        n = rng.randint(1, 60)
        team, _ = await village(app.db, n, code=f"T{run:05d}", prefix=f"r{run}-")
        bid = await lesson_broadcast(app.db, team)
        config = fast_config(batch_size=rng.randint(1, 25))
        first = worker(app.services, channel, config, owner=f"first-{run}")
        task = asyncio.create_task(first.run())
        if rng.random() < 0.5:
            cut = rng.randint(0, n)

            def cutter(count: int, cut: int = cut, task: asyncio.Task[None] = task) -> None:
                if count >= cut:
                    task.cancel()

            channel.on_send = cutter
            if cut == 0:
                task.cancel()
        else:
            await asyncio.sleep(rng.uniform(0, 0.03))
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        channel.on_send = None
        async with app.db.transaction() as s:
            states = set(
                (
                    await s.execute(
                        select(BroadcastDelivery.state).where(BroadcastDelivery.broadcast_id == bid)
                    )
                ).scalars()
            )
        assert states <= {"pending", "sent"}, (run, states)  # nothing left half-done
        second = worker(app.services, channel, config, owner=f"second-{run}")
        await until_done(second, app.db, bid)
        counts = channel.counts()
        assert sorted(counts.values()) == [1] * n, (run, counts)
        assert await tally(app.db, bid) == {"sent": n}


async def test_rate_limit_paces_a_channel(app: App) -> None:
    channel, _ = _setup(app)
    team, _ = await village(app.db, 30)
    bid = await lesson_broadcast(app.db, team)
    config = fast_config(rate_per_second=BroadcastRates(other=100))
    start = time.monotonic()
    await until_done(worker(app.services, channel, config), app.db, bid)
    elapsed = time.monotonic() - start
    # 30 messages at 100/s: all but a burst's worth wait for the pace (a shared PostgreSQL
    # lane grants one slot at a time, the in-process bucket saves up to its burst).
    assert elapsed >= (30 - default_burst(100)) / 100
    assert sum(channel.counts().values()) == 30
