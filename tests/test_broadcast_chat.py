"""Broadcasts in the chat: composing (roles enforced), "Học ngay" starting the lesson, and the
opt-out that works at any moment, even in the middle of a lesson or a quiz."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.app import App
from bot.channels.memory import MemoryChannel
from bot.core.gateway import Gateway
from storage.models import Broadcast, BroadcastDelivery, BroadcastOptOut, SkillCompletion, User
from storage.repos.teams import TeamRepo
from tests.broadcast_helpers import Clock, fast_config, tally, until_done, worker
from tests.conftest import consent
from tests.replies import labels, texts
from tests.waiting import eventually

PHISHING = "sk_spot_phishing"


async def _user(app: App, external_id: str) -> User:
    async with app.db.transaction() as s:
        return (await s.execute(select(User).where(User.external_id == external_id))).scalar_one()


async def _team(app: App, code: str = "DONG01", name: str = "thôn Đông") -> int:
    async with app.db.transaction() as s:
        team = await TeamRepo(s).create(name, "xã Hòa An", name.split()[-1], code=code)
        return team.id


async def _person(
    app: App, chat: MemoryChannel, ext: str, team_id: int | None, role: str = "citizen"
) -> int:
    await consent(chat, ext)
    user = await _user(app, ext)
    async with app.db.transaction() as s:
        row = await s.get(User, user.id)
        assert row is not None
        row.role = role
        if team_id is not None:
            await TeamRepo(s).join(user.id, team_id, "code")
    return user.id


async def _compose_lesson(chat: MemoryChannel, who: str, *, missing: bool) -> list[str]:
    replies = await chat.say(who, "gửi tin")
    assert "Một bài học" in labels(replies), texts(replies)
    await chat.press(who, "Một bài học")
    assert isinstance(chat.core, Gateway)
    content = chat.core.services.store.current
    skill = content.lessons.get(PHISHING)
    assert skill is not None
    group = content.group(skill.group)
    assert group is not None
    await chat.press(who, group.title)
    await chat.press(who, skill.title)
    replies = await chat.press(
        who, "Chỉ người chưa học xong" if missing else "Tất cả người dân của tổ"
    )
    return [r.text for r in replies]


async def test_a_lead_composes_a_lesson_for_those_missing_it_and_citizens_can_start_it(
    app: App, chat: MemoryChannel
) -> None:
    team = await _team(app)
    await _person(app, chat, "lead", team, role="lead")
    citizens = [await _person(app, chat, f"c{i}", team) for i in range(4)]
    other_team = await _team(app, code="TAY001", name="thôn Tây")
    await _person(app, chat, "stranger", other_team)
    async with app.db.transaction() as s:
        s.add(
            SkillCompletion(
                user_id=citizens[0], skill_id=PHISHING, channel="memory", best_score=1.0
            )
        )
    preview = await _compose_lesson(chat, "lead", missing=True)
    send = next(b for r in chat.last["lead"] for b in r.buttons if b.label == "Gửi")
    joined = "\n".join(preview)
    assert "Xem trước" in joined
    assert "Số người nhận: **3**" in joined  # c1..c3; c0 passed, the stranger is elsewhere
    skill = app.store.current.lessons.get(PHISHING)
    assert skill is not None and skill.title in joined
    assert "dừng nhận tin" in joined  # every message says how to stop
    replies = await chat.press_token("lead", send.payload)
    assert "gửi cho 3 người" in texts(replies)
    again = await chat.press_token("lead", send.payload)  # a double press creates nothing more
    assert "đã gửi" in texts(again)
    async with app.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Broadcast)) == 1
        bid = await s.scalar(select(Broadcast.id))
    assert bid is not None
    await until_done(worker(app.services, chat), app.db, bid)
    assert set(chat.sent) == {"c1", "c2", "c3", "lead"}
    assert "Đã gửi: 3" in texts(chat.sent["lead"])
    # "Học ngay" opens the lesson for the citizen who got it.
    replies = await chat.press("c1", "Học ngay")
    assert skill.title in texts(replies)
    assert (await tally(app.db, bid)) == {"sent": 3}


async def test_on_a_text_only_channel_learn_now_is_pressed_with_its_number(
    app: App, text_chat: MemoryChannel
) -> None:
    team = await _team(app)
    await _person(app, text_chat, "lead", team, role="member")
    await _person(app, text_chat, "bac-ba", team)
    await _compose_lesson(text_chat, "lead", missing=False)
    await text_chat.say("lead", "Gửi")  # the label typed presses it
    async with app.db.transaction() as s:
        bid = await s.scalar(select(Broadcast.id))
    assert bid is not None
    await until_done(worker(app.services, text_chat), app.db, bid)
    shown = "\n".join(text_chat.plain(text_chat.sent["bac-ba"]))
    assert "1️⃣ Học ngay" in shown
    replies = await text_chat.say("bac-ba", "1")
    skill = app.store.current.lessons.get(PHISHING)
    assert skill is not None and skill.title in texts(replies)


async def test_citizens_cannot_compose_and_members_only_reach_their_own_team(
    app: App, chat: MemoryChannel
) -> None:
    east = await _team(app)
    west = await _team(app, code="TAY001", name="thôn Tây")
    await _person(app, chat, "citizen", east)
    replies = await chat.say("citizen", "gửi tin")
    assert "Một bài học" not in labels(replies)
    replies = await chat.say("citizen", "/broadcast")
    assert "Một bài học" not in labels(replies)
    # A member of the west team composes for the west team only.
    await _person(app, chat, "west-member", west, role="member")
    await _person(app, chat, "east-citizen", east)
    await _person(app, chat, "west-citizen", west)
    preview = await _compose_lesson(chat, "west-member", missing=False)
    assert "Số người nhận: **1**" in "\n".join(preview)
    await chat.press("west-member", "Gửi")
    async with app.db.transaction() as s:
        b = (await s.execute(select(Broadcast))).scalar_one()
    assert b.team_id == west
    # A member without a team cannot send.
    await _person(app, chat, "lonely", None, role="member")
    replies = await chat.say("lonely", "gửi tin")
    assert "chưa thuộc tổ nào" in texts(replies)


async def test_an_admin_chooses_any_team_or_everyone_and_writes_an_announcement(
    app: App, chat: MemoryChannel
) -> None:
    east = await _team(app)
    west = await _team(app, code="TAY001", name="thôn Tây")
    await _person(app, chat, "admin", None, role="admin")
    await _person(app, chat, "e", east)
    await _person(app, chat, "w", west)
    replies = await chat.say("admin", "gửi tin")
    assert {"thôn Đông", "thôn Tây", "Tất cả người dân"} <= set(labels(replies))
    await chat.press("admin", "Tất cả người dân")
    await chat.press("admin", "Một thông báo ngắn")
    replies = await chat.say("admin", "x" * 501)
    assert "quá 500" in texts(replies)
    replies = await chat.say("admin", "Thứ Bảy này tổ hướng dẫn cài VNeID tại nhà văn hóa.")
    assert "Số người nhận: **2**" in texts(replies)
    await chat.press("admin", "Hẹn giờ")
    replies = await chat.say("admin", "giờ nào cũng được")
    assert "chưa hiểu giờ" in texts(replies)
    replies = await chat.say("admin", "08:00 25/12")
    assert "08:00 25/12" in texts(replies)
    replies = await chat.press("admin", "Gửi")
    assert "Tin sẽ gửi lúc 08:00 25/12" in texts(replies)  # issue 17 item 6: not "ngay"
    assert "ngay" not in texts(replies)
    async with app.db.transaction() as s:
        b = (await s.execute(select(Broadcast))).scalar_one()
    assert b.team_id is None and b.kind == "announcement"
    at = b.scheduled_at
    assert (at.month, at.day, at.hour, at.minute) == (12, 25, 1, 0)  # 08:00 in Hanoi
    assert "nhà văn hóa" in b.body and "dừng nhận tin" in b.body


async def test_opt_out_works_in_the_middle_of_a_lesson_and_of_a_quiz(
    app: App, text_chat: MemoryChannel
) -> None:
    team = await _team(app)
    await _person(app, text_chat, "lead", team, role="lead")
    ba = await _person(app, text_chat, "ba", team)
    await _person(app, text_chat, "tu", team)
    skill = app.store.current.lessons.get(PHISHING)
    assert skill is not None
    # In the middle of a lesson step:
    await text_chat.say("ba", "bài học")
    await text_chat.say("ba", skill.title)
    replies = await text_chat.say("ba", "dừng nhận tin")
    assert "nhận tin" in texts(replies) and "dừng gửi tin" in texts(replies)
    async with app.db.transaction() as s:
        assert await s.get(BroadcastOptOut, ba) is not None
    # ... the lesson goes on where it was: "Tiếp" still works.
    replies = await text_chat.say("ba", "Tiếp")
    assert skill.steps[1].text.split("\n")[0][:20] in texts(replies)
    # In the middle of the quiz, then answering with a letter still works.
    for _ in skill.steps[2:]:
        await text_chat.say("ba", "Tiếp")
    replies = await text_chat.say("ba", "Tiếp")
    assert any(r.choices for r in replies)
    replies = await text_chat.say("ba", "DUNG NHAN TIN")
    assert "nhận tin" in texts(replies)
    replies = await text_chat.say("ba", "A")
    assert "Đúng" in texts(replies) or "Chưa đúng" in texts(replies) or "đúng" in texts(replies)
    # A broadcast now skips Bác Ba with that reason.
    await _compose_lesson(text_chat, "lead", missing=False)
    await text_chat.say("lead", "Gửi")
    async with app.db.transaction() as s:
        bid = await s.scalar(select(Broadcast.id))
    assert bid is not None
    await until_done(worker(app.services, text_chat, fast_config()), app.db, bid)
    assert await tally(app.db, bid) == {"sent": 1, "skipped": 1, "skipped:opted_out": 1}
    assert "Học ngay" not in texts(text_chat.sent.get("ba", []))
    # "nhận tin" turns them back on.
    replies = await text_chat.say("ba", "nhận tin")
    assert "gửi lại" in texts(replies)
    async with app.db.transaction() as s:
        assert await s.get(BroadcastOptOut, ba) is None


async def test_stop_alone_opts_out(app: App, chat: MemoryChannel) -> None:
    assert app.store.current.intents.match("STOP") == "unsubscribe"
    team = await _team(app)
    user = await _person(app, chat, "ba", team)
    replies = await chat.say("ba", "STOP")
    assert "nhận tin" in texts(replies)
    async with app.db.transaction() as s:
        assert await s.get(BroadcastOptOut, user) is not None


async def test_the_running_bot_delivers_broadcasts(app: App, chat: MemoryChannel) -> None:
    """``App.start`` runs the worker: a broadcast composed in the chat arrives by itself."""
    app.services.clock = Clock()  # 10:00 in Hanoi, outside quiet hours
    team = await _team(app)
    await _person(app, chat, "lead", team, role="lead")
    await _person(app, chat, "ba", team)
    await _compose_lesson(chat, "lead", missing=False)
    await chat.press("lead", "Gửi")
    await app.start(serve_http=False)
    await eventually(lambda: "lead" in chat.sent, within=4)
    assert "Học ngay" in labels(chat.sent["ba"])
    assert "Đã gửi: 1" in texts(chat.sent["lead"])


async def test_an_announcement_nobody_can_receive_is_kept_as_a_draft(
    app: App, chat: MemoryChannel
) -> None:
    """Issue 17 item 6: the typed text is not thrown away; "gửi tin" later offers it again."""
    team = await _team(app)
    await _person(app, chat, "lead", team, role="lead")
    await chat.say("lead", "gửi tin")
    await chat.press("lead", "Một thông báo ngắn")
    typed = "Chủ nhật tổ hướng dẫn cài ứng dụng ngân hàng tại nhà văn hóa."
    replies = await chat.say("lead", typed)
    assert "giữ lại" in texts(replies)
    async with app.db.transaction() as s:
        kept = (await s.execute(select(Broadcast))).scalar_one()
        assert (kept.status, kept.body) == ("draft", typed)
        assert await s.scalar(select(func.count()).select_from(BroadcastDelivery)) == 0
    await _person(app, chat, "c1", team)
    replies = await chat.say("lead", "gửi tin")
    draft_label = next(label for label in labels(replies) if label.startswith("Tin đã soạn"))
    replies = await chat.press("lead", draft_label)
    assert typed in texts(replies) and "Số người nhận: **1**" in texts(replies)
    replies = await chat.press("lead", "Gửi")
    assert "gửi cho 1 người" in texts(replies)
    async with app.db.transaction() as s:
        statuses = (await s.execute(select(Broadcast.status))).scalars().all()
    assert statuses == ["active"]  # sent, and the draft is gone
    replies = await chat.say("lead", "gửi tin")
    assert not [label for label in labels(replies) if label.startswith("Tin đã soạn")]


async def test_a_lead_stops_a_broadcast_from_the_chat_and_nobody_gets_it(
    app: App, chat: MemoryChannel
) -> None:
    team = await _team(app)
    await _person(app, chat, "lead", team, role="lead")
    for i in range(3):
        await _person(app, chat, f"c{i}", team)
    await _compose_lesson(chat, "lead", missing=False)
    replies = await chat.press("lead", "Gửi")
    assert "Dừng gửi tin này" in labels(replies)
    stop = next(b for r in replies for b in r.buttons if b.label == "Dừng gửi tin này")
    replies = await chat.press_token("lead", stop.payload)
    assert "Đã gửi 0 người, còn 3 người chưa nhận" in texts(replies)
    replies = await chat.press("lead", "Dừng hẳn")
    assert "Đã dừng tin số" in texts(replies) and "3 tin chưa gửi thì bị hủy" in texts(replies)
    async with app.db.transaction() as s:
        b = (await s.execute(select(Broadcast))).scalar_one()
    assert b.status == "cancelled"
    assert await tally(app.db, b.id) == {"skipped": 3, "skipped:cancelled": 3}
    # Pressing the first button again: already stopped; the list offers no stop any more
    replies = await chat.press_token("lead", stop.payload)
    assert "đã dừng rồi" in texts(replies)
    replies = await chat.say("lead", "/broadcasts")
    assert "đã hủy" in texts(replies) and not any("Dừng tin" in x for x in labels(replies))
    assert not any(ext.startswith("c") for ext in chat.sent)


async def test_the_list_offers_a_stop_for_a_running_broadcast_of_the_own_team_only(
    app: App, chat: MemoryChannel
) -> None:
    east = await _team(app)
    west = await _team(app, code="TAY001", name="thôn Tây")
    await _person(app, chat, "east-lead", east, role="lead")
    await _person(app, chat, "east-citizen", east)
    await _person(app, chat, "west-lead", west, role="lead")
    await _compose_lesson(chat, "east-lead", missing=False)
    await chat.press("east-lead", "Gửi")
    async with app.db.transaction() as s:
        bid = await s.scalar(select(Broadcast.id))
    replies = await chat.say("east-lead", "/broadcasts")
    assert f"Dừng tin số {bid}" in labels(replies)
    replies = await chat.say("west-lead", "/broadcasts")
    assert not any("Dừng tin" in x for x in labels(replies))
    # A lead moved to another team after the button was offered cannot use it
    await chat.say("east-lead", "/broadcasts")
    async with app.db.transaction() as s:
        lead = await _user(app, "east-lead")
        await TeamRepo(s).join(lead.id, west, "code")
    replies = await chat.press("east-lead", f"Dừng tin số {bid}")
    assert "chỉ gửi tin được cho tổ của mình" in texts(replies)
    assert "Dừng hẳn" not in labels(replies)
    async with app.db.transaction() as s:
        running = await s.get(Broadcast, bid)
        assert running is not None and running.status == "active"
