"""Gentle reminders: a lesson left unfinished gets one kind reminder with "Học tiếp" after
``nudges.after_days``, exactly once (also across two workers and two runs), never in quiet
hours, never after "dừng nhận tin" or "tắt nhắc", and on a Zalo OA only inside Zalo's window
(skipped, then re-armed when the citizen writes again). Time is injected (``Services.clock``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.app import App, build_app
from bot.channels.memory import RICH, MemoryChannel
from bot.config import Config
from bot.core.ports import Uncertain
from bot.dashboard.overview import overview_html
from bot.reports.build import build_report
from bot.reports.table import csv_bytes
from bot.reports.text import summary_text
from storage.db import Database
from storage.models import LessonAttempt, Nudge, User
from storage.repos.nudges import NudgeRepo
from storage.repos.teams import TeamRepo
from tests.broadcast_helpers import Recorder, fast_config
from tests.nudge_helpers import (
    SKILL,
    install_clock,
    leave_a_lesson,
    morning,
    nudge_worker,
    pushed,
    rows,
)
from tests.replies import keys, labels
from tests.waiting import eventually


@pytest.fixture
async def app(config: Config, any_db: Database) -> AsyncIterator[App]:
    """The bot wired on SQLite, and again on PostgreSQL when TEST_DATABASE_URL is set."""
    application = build_app(config, db=any_db)
    yield application
    await application.stop()


@pytest.fixture
def chat(app: App) -> MemoryChannel:
    channel = MemoryChannel(app.core, name="memory", capabilities=RICH)
    app.channels[channel.name] = channel
    return channel


async def test_one_reminder_after_three_days_with_learn_on(app: App, chat: MemoryChannel) -> None:
    clock = install_clock(app)
    await leave_a_lesson(chat, app, "u1")
    [row] = await rows(app, "u1")
    assert (row.kind, row.skill_id, row.state) == ("reminder", SKILL, "pending")
    assert row.due_at == clock.now + timedelta(days=3)
    first, second = nudge_worker(app, owner="w1"), nudge_worker(app, owner="w2")
    clock.advance(days=2, hours=23)
    assert await first.run_once() == 0
    clock.advance(hours=1)
    sent = await asyncio.gather(first.run_once(), second.run_once())
    assert sum(sent) == 1
    assert pushed(chat, "u1") == ["nudge.reminder"]
    reminder = chat.sent["u1"][0]
    assert "Nhận diện tin nhắn và đường link giả" in reminder.text
    assert [b.label for b in reminder.buttons] == ["Học tiếp", "Tắt nhắc"]
    # Later runs of both workers, and days later: never a second copy.
    clock.advance(days=5)
    assert await first.run_once() + await second.run_once() == 0
    assert pushed(chat, "u1") == ["nudge.reminder"]
    [row] = await rows(app, "u1")
    assert (row.state, row.sent_at) == ("sent", clock.now - timedelta(days=5))
    # "Học tiếp" resumes the lesson where it was left (step 2).
    replies = await chat.press("u1", "Học tiếp")
    assert "lesson.resumed" in keys(replies)
    assert "(2/" in replies[-1].text or "2/" in replies[-1].text
    # Left again for a long time: at most one reminder per lesson, ever.
    await chat.say("u1", "dừng")
    clock.advance(days=10)
    assert await first.run_once() == 0
    assert pushed(chat, "u1") == ["nudge.reminder"]


async def test_the_team_report_counts_reminders_and_who_went_on(
    app: App, chat: MemoryChannel
) -> None:
    clock = install_clock(app)
    await leave_a_lesson(chat, app, "u2")
    await leave_a_lesson(chat, app, "u1")
    clock.advance(days=3)
    assert await nudge_worker(app).run_once() == 2
    clock.advance(hours=2)
    await chat.press("u1", "Học tiếp")  # u1 goes on; u2 does not
    async with app.db.transaction() as s:
        report = await build_report(s, app.store.current, None, clock(), 7)
    assert (report.reminders, report.resumed) == (2, 1)
    text = summary_text(report, app.store.current)
    assert "Nhắc học tiếp: đã gửi 2, 1 người học tiếp" in text
    table = csv_bytes(report, app.store.current).decode("utf-8-sig").splitlines()
    assert "Đã nhắc" in table[0]
    assert all(line.rstrip().split(",")[-2] == "1" for line in table[1:])
    # The dashboard's overview of their team says the same
    async with app.db.transaction() as s:
        teams = TeamRepo(s)
        team = await teams.create("Tổ CNS Thôn Đông", "xã Hòa An", "Thôn Đông", code="DONG01")
        for ext in ("u1", "u2"):
            uid = await s.scalar(select(User.id).where(User.external_id == ext))
            assert uid is not None
            await teams.join(uid, team.id, "code")
    async with app.db.transaction() as s:
        html = await overview_html(s, app.store.current, [team], team, clock(), 7)
    assert "Nhắc học tiếp: đã gửi 2 lời nhắc, 1 người học tiếp" in html


async def test_a_lesson_going_on_or_finished_is_not_reminded(app: App, chat: MemoryChannel) -> None:
    clock = install_clock(app)
    await leave_a_lesson(chat, app, "u1")
    clock.advance(days=2)
    await chat.say("u1", "học tiếp")  # back in it: resumed
    clock.advance(days=1, hours=1)  # 3 days after the start, 1 day after the last move
    worker = nudge_worker(app)
    assert await worker.run_once() == 0
    [row] = await rows(app, "u1")
    assert row.state == "pending"
    assert row.due_at == clock.now - timedelta(days=1, hours=1) + timedelta(days=3)
    # Finishing the lesson before the new due time: skipped, never sent.
    skill = app.store.current.lessons.get(SKILL)
    assert skill is not None
    replies = await chat.say("u1", "học tiếp")
    while "Tiếp" in labels(replies):
        replies = await chat.press("u1", "Tiếp")
    for question in skill.quiz:
        await chat.press("u1", question.answer)
    clock.advance(days=5)
    assert await worker.run_once() == 1  # the first review of the (safety) skill passed
    reminders = [r for r in await rows(app, "u1") if r.kind == "reminder"]
    assert [(r.state, r.reason) for r in reminders] == [("skipped", "finished")]
    assert pushed(chat, "u1") == ["nudge.review_question"]


async def test_never_in_quiet_hours(app: App, chat: MemoryChannel) -> None:
    clock = install_clock(app)
    await leave_a_lesson(chat, app, "u1")
    clock.advance(days=3)
    clock.local_hour(22)
    worker = nudge_worker(app)
    assert await worker.run_once() == 0
    clock.local_hour(6)
    assert await worker.run_once() == 0
    assert pushed(chat, "u1") == []
    [row] = await rows(app, "u1")
    assert row.state == "pending"
    clock.local_hour(7)
    assert await worker.run_once() == 1
    assert pushed(chat, "u1") == ["nudge.reminder"]


async def test_not_after_stop_receiving(app: App, chat: MemoryChannel) -> None:
    clock = install_clock(app)
    await leave_a_lesson(chat, app, "u1")
    await chat.say("u1", "dừng nhận tin")
    clock.advance(days=3)
    assert await nudge_worker(app).run_once() == 0
    assert pushed(chat, "u1") == []
    [row] = await rows(app, "u1")
    assert (row.state, row.reason) == ("skipped", "opted_out")


async def test_not_after_reminders_off_and_back_on(app: App, chat: MemoryChannel) -> None:
    clock = install_clock(app)
    await leave_a_lesson(chat, app, "u1")
    replies = await chat.say("u1", "tắt nhắc")
    assert keys(replies) == ["nudge.off"]
    assert "Bật nhắc" in labels(replies)
    assert keys(await chat.say("u1", "tat nhac")) == ["nudge.off_already"]
    clock.advance(days=3)
    worker = nudge_worker(app)
    assert await worker.run_once() == 0
    [row] = await rows(app, "u1")
    assert (row.state, row.reason) == ("skipped", "nudges_off")
    # "Bật nhắc": a lesson started and left afterwards is reminded again.
    assert keys(await chat.press("u1", "Bật nhắc")) == ["nudge.on"]
    skill = app.store.current.lessons.by_group("basics")[0]
    await leave_a_lesson(chat, app, "u1", skill.id, fresh=False)
    clock.advance(days=3)
    assert await worker.run_once() == 1
    assert skill.title in chat.sent["u1"][-1].text


async def test_the_reminder_button_turns_reminders_off(app: App, chat: MemoryChannel) -> None:
    clock = install_clock(app)
    await leave_a_lesson(chat, app, "u1")
    clock.advance(days=3)
    assert await nudge_worker(app).run_once() == 1
    assert keys(await chat.press("u1", "Tắt nhắc")) == ["nudge.off"]
    async with app.db.transaction() as s:
        uid = (await rows(app, "u1"))[0].user_id
        assert await NudgeRepo(s).is_off(uid)


async def test_zalo_oa_outside_the_window_waits_for_the_citizen_to_write(app: App) -> None:
    oa = MemoryChannel(app.core, name="zalo_oa", capabilities=RICH)
    app.channels[oa.name] = oa
    clock = install_clock(app, morning(days_ago=12))
    await leave_a_lesson(oa, app, "oa1:u1")
    async with app.db.transaction() as s:  # the citizen's last message: at the clock's time
        await s.execute(update(User).values(last_seen=clock.now))
    clock.advance(days=7, hours=1)  # due after 3 days, but the run is after the 7-day window
    worker = nudge_worker(app, quiet=("", ""))
    assert await worker.run_once() == 0
    [row] = await rows(app, "oa1:u1")
    assert (row.state, row.reason) == ("window", "zalo_window")
    clock.advance(days=1)
    assert await worker.run_once() == 0  # still waiting: the citizen has not written
    assert oa.sent.get("oa1:u1") is None
    await oa.say("oa1:u1", "menu")  # writes again (last_seen: the real time, after the clock)
    await worker.run_once()
    [row] = await rows(app, "oa1:u1")
    assert row.state == "pending"
    clock.now = row.due_at
    assert await worker.run_once() == 1
    assert pushed(oa, "oa1:u1") == ["nudge.reminder"]


async def test_an_uncertain_send_is_never_repeated_and_a_dead_worker_never_resends(
    app: App,
) -> None:
    channel = Recorder()
    app.channels[channel.name] = channel
    clock = install_clock(app)
    async with app.db.transaction() as s:
        users = [
            User(channel=channel.name, external_id=f"r{i}", consent_at=clock.now) for i in range(3)
        ]
        s.add_all(users)
        await s.flush()
        for user in users:
            s.add(
                LessonAttempt(
                    user_id=user.id,
                    skill_id=SKILL,
                    channel=channel.name,
                    started_at=clock.now,
                    updated_at=clock.now,
                )
            )
            await NudgeRepo(s).remind(
                user.id, SKILL, channel.name, clock.now + timedelta(days=3), clock.now
            )
        ids = [u.id for u in users]
    channel.errors["r0"] = [Uncertain("timeout after sending")]
    # r1's row was being sent by a worker that died (kill -9): its lease ran out.
    async with app.db.transaction() as s:
        await s.execute(
            update(Nudge)
            .where(Nudge.user_id == ids[1])
            .values(state="sending", claimed_by="dead", claimed_at=clock.now)
        )
    clock.advance(days=3)
    worker = nudge_worker(app)
    assert await worker.run_once() == 1  # r2 only
    assert await worker.run_once() == 0
    assert channel.counts() == {"r2": 1}
    states = {
        r.user_id: (r.state, r.reason) for u in ("r0", "r1", "r2") for r in await rows(app, u)
    }
    assert states == {
        ids[0]: ("failed", "uncertain"),
        ids[1]: ("failed", "interrupted"),
        ids[2]: ("sent", None),
    }


async def test_many_reminders_two_workers_each_once(app: App) -> None:
    channel = Recorder()
    app.channels[channel.name] = channel
    clock = install_clock(app)
    async with app.db.transaction() as s:
        users = [
            User(channel=channel.name, external_id=f"m{i}", consent_at=clock.now) for i in range(40)
        ]
        s.add_all(users)
        await s.flush()
        for user in users:
            s.add(
                LessonAttempt(
                    user_id=user.id,
                    skill_id=SKILL,
                    channel=channel.name,
                    started_at=clock.now,
                    updated_at=clock.now,
                )
            )
            await NudgeRepo(s).remind(
                user.id, SKILL, channel.name, clock.now + timedelta(days=3), clock.now
            )
    clock.advance(days=3)
    workers = [nudge_worker(app, owner=name, batch_size=7) for name in "abc"]
    sent = await asyncio.gather(*(w.run_once() for w in workers))
    assert sum(sent) == 40
    assert set(channel.counts().values()) == {1}
    assert len(channel.counts()) == 40


async def test_deleting_my_data_removes_reminders_and_preferences(
    app: App, chat: MemoryChannel
) -> None:
    install_clock(app)
    await leave_a_lesson(chat, app, "u1")
    await chat.say("u1", "tắt nhắc")
    uid = (await rows(app, "u1"))[0].user_id
    await chat.say("u1", "Xóa dữ liệu của tôi")
    await chat.press("u1", "Xóa hết dữ liệu")
    async with app.db.transaction() as s:
        assert await NudgeRepo(s).of_user(uid) == []
        assert not await NudgeRepo(s).is_off(uid)


async def test_the_running_bot_sends_reminders_beside_the_broadcast_worker(
    config: Config, any_db: Database
) -> None:
    config = replace(
        config,
        broadcast=fast_config(quiet_start="", quiet_end=""),
        nudges=replace(config.nudges, poll_interval=0.02),
    )
    application = build_app(config, db=any_db)
    chat = MemoryChannel(application.core, name="memory", capabilities=RICH)
    application.channels[chat.name] = chat
    try:
        clock = install_clock(application)
        await leave_a_lesson(chat, application, "u1")
        clock.advance(days=3)
        application.start_workers()
        await eventually(lambda: pushed(chat, "u1") == ["nudge.reminder"])
    finally:
        await application.stop()
