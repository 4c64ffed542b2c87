"""The Zalo OA channel end to end, against the fake OA server (tests/fake_zalo_oa.py): the whole
conversation, the webhook signature, de-duplication, token refresh and rotation, the 7-day
window, rate and quota answers, a team member on Telegram answering a citizen on an OA."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.app import App
from bot.config import Config, DatabaseConfig
from bot.core.ports import NotAllowed, RetryAfter, Unreachable
from bot.core.replies import Reply
from bot.zalo_oa import Accounts
from storage.db import Database
from storage.models import User, ZaloOA, utcnow
from storage.repos.teams import TeamRepo
from tests.fake_zalo_oa import (
    APP_SECRET,
    OA_ID,
    SECRET_KEY,
    FakeOA,
    OACitizen,
    Sent,
    oa_channel,
    oa_config,
    signed,
    start_bot,
)
from tests.test_zalo_conversation import ENTRIES, SKILLS, first_line

KEY = re.compile(r"^(?:([0-9])\ufe0f\u20e3|([A-H])\.) (.+)$")


@pytest.fixture
async def fake() -> AsyncIterator[FakeOA]:
    server = await FakeOA().start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(config: Config, db: Database, fake: FakeOA) -> AsyncIterator[App]:
    app = await start_bot(config, db, fake)
    async with db.transaction() as session:
        await TeamRepo(session).create("Tổ CNS thôn Đông", "xã Đông Hòa", "thôn Đông", "DONG01")
        await TeamRepo(session).create("Tổ CNS thôn Tây", "xã Đông Hòa", "thôn Tây", "TAY001")
        await TeamRepo(session).create("Tổ CNS thôn Bắc", "xã Khác", "thôn Bắc", "BAC001")
    await accounts(app).add(OA_ID, fake.new_oa(), ["DONG01", "TAY001"])
    yield app
    await app.stop()


def accounts(app: App) -> Accounts:
    found = oa_channel(app).accounts
    assert isinstance(found, Accounts)
    return found


def shown(sent: list[Sent]) -> str:
    return "\n\n".join(s.text for s in sent)


async def choose(citizen: OACitizen, sent: list[Sent], label: str) -> list[Sent]:
    """Tap the template button whose title holds ``label``, else type its number or letter."""
    for message in reversed(sent):
        if any(label.lower() in str(b["title"]).lower() for b in message.buttons):
            return await citizen.tap([message], label)
    for line in shown(sent).splitlines():
        match = KEY.match(line.strip())
        if match and label.lower() in match.group(3).lower():
            return await citizen.say(match.group(1) or match.group(2))
    raise AssertionError(f"no choice {label!r} in:\n{shown(sent)}")


async def test_whole_conversation(bot: App, fake: FakeOA) -> None:
    """follow → consent → the OA's villages → a question → its answer with buttons → a button
    press → a lesson step → a quiz answer."""
    citizen = OACitizen(bot, fake)
    sent = await citizen.follow()
    assert "Chào" in shown(sent) or "chào" in shown(sent)
    consent = next(m for m in sent if m.buttons)
    assert [b["type"] for b in consent.buttons] == ["oa.query.show"] * 3

    sent = await citizen.tap(sent, "Đồng ý")
    villages = next(m for m in sent if m.buttons)
    titles = [b["title"] for b in villages.buttons]
    assert "thôn Đông" in titles and "thôn Tây" in titles and "thôn Bắc" not in titles
    sent = await citizen.tap(sent, "thôn Tây")
    assert "Tổ CNS thôn Tây" in shown(sent)

    entry = ENTRIES["scam_fake_police_call"]
    sent = await citizen.say("co ng xung cong an goi bao cap nhat dinh danh that k")
    assert first_line(entry["answer"]) in shown(sent)
    related = ENTRIES["scam_fake_app_link"]
    sent = await choose(citizen, sent, related["title"])
    assert first_line(related["answer"]) in shown(sent)

    skill = SKILLS[related["skill"]]
    sent = await choose(citizen, sent, skill["title"])
    assert first_line(skill["steps"][0]["text"]) in shown(sent)
    for _ in range(12):
        if any(
            KEY.match(line.strip()) and KEY.match(line.strip()).group(2)  # type: ignore[union-attr]
            for line in shown(sent).splitlines()
        ) or any(m.buttons and str(skill["quiz"][0]["choices"][0]) in str(m.buttons) for m in sent):
            break
        sent = await choose(citizen, sent, "Tiếp")
    question = skill["quiz"][0]
    right = str(question["choices"][question["correct"] - 1])
    sent = await choose(citizen, sent, right)
    assert "Đúng rồi" in shown(sent)
    assert all(len(s.text) <= 2000 for s in fake.sent)


async def test_template_refused_falls_back_to_numbered_lines(bot: App, fake: FakeOA) -> None:
    fake.refuse_templates = True
    citizen = OACitizen(bot, fake)
    sent = await citizen.follow()
    assert not any(m.buttons for m in sent)
    assert "1\ufe0f\u20e3" in shown(sent) and "Đồng ý" in shown(sent)
    sent = await choose(citizen, sent, "Đồng ý")
    assert "thôn Đông" in shown(sent)


async def test_signature_wrong_or_missing_is_refused_and_nothing_stored(
    bot: App, fake: FakeOA, db: Database
) -> None:
    citizen = OACitizen(bot, fake)
    body = citizen.body("user_send_text", "xin chào")
    assert await citizen.post(body, headers={"Content-Type": "application/json"}) == 403
    import json

    raw = json.dumps(body).encode()
    wrong = signed(raw, body["timestamp"], key="not-the-key")
    assert await citizen.post(body, headers=wrong) == 403
    tampered = signed(raw, body["timestamp"])
    body["message"]["text"] = "đổi nội dung"
    assert await citizen.post(body, headers=tampered) == 403
    await oa_channel(bot).idle()
    assert fake.sent == []
    async with db.transaction() as session:
        assert (await session.execute(select(User))).scalars().all() == []


async def test_app_secret_signature_is_accepted_too(bot: App, fake: FakeOA) -> None:
    """The research is unsure which key signs: the OA Secret Key or the App Secret."""
    citizen = OACitizen(bot, fake)
    import json

    body = citizen.body("user_send_text", "xin chào")
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert await citizen.post(body, headers=signed(raw, body["timestamp"], APP_SECRET)) == 200
    await oa_channel(bot).idle()
    assert fake.to(citizen.user_id)


async def test_duplicate_msg_id_answered_once_and_echoes_ignored(bot: App, fake: FakeOA) -> None:
    citizen = OACitizen(bot, fake)
    body = citizen.body("user_send_text", "xin chào", msg_id="dup-1")
    first = await citizen.event(body)
    assert first
    again = await citizen.event(body)
    assert again == []
    echo = citizen.body("oa_send_text", "echo")
    echo["sender"], echo["recipient"] = {"id": OA_ID}, {"id": citizen.user_id}
    assert await citizen.event(echo) == []


async def test_sticker_gets_the_text_only_reply(bot: App, fake: FakeOA) -> None:
    citizen = OACitizen(bot, fake)
    await citizen.follow()
    await citizen.tap(fake.to(citizen.user_id), "Đồng ý")
    sent = await citizen.event(citizen.body("user_send_sticker", attachments=[{"type": "sticker"}]))
    assert "chỉ đọc được chữ" in shown(sent)


async def test_expired_token_refreshes_once_stores_the_rotated_token_and_resends(
    bot: App, fake: FakeOA, db: Database
) -> None:
    citizen = OACitizen(bot, fake)
    await citizen.follow()
    async with db.transaction() as session:
        before = (await session.execute(select(ZaloOA))).scalar_one()
    fake.expire_access(OA_ID)
    calls = len(fake.refresh_calls)
    sent = await citizen.say("xin chào")
    assert sent, "the reply was resent after the refresh"
    assert len(fake.refresh_calls) == calls + 1
    async with db.transaction() as session:
        after = (await session.execute(select(ZaloOA))).scalar_one()
    assert after.token_version == before.token_version + 1
    assert after.refresh_token != before.refresh_token
    assert "SECRET" not in after.refresh_token and "SECRET" not in after.access_token
    # the rotated refresh token is the one the platform will accept next time
    assert accounts(bot).cipher.decrypt(after.refresh_token) in fake.refresh_tokens


async def test_push_outside_the_window_is_not_attempted(
    bot: App, fake: FakeOA, db: Database
) -> None:
    citizen = OACitizen(bot, fake)
    await citizen.follow()
    channel = oa_channel(bot)
    external = f"{OA_ID}:{citizen.user_id}"
    async with db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.external_id == external)
            .values(last_seen=utcnow() - timedelta(days=8))
        )
    attempts = len(fake.attempts)
    with pytest.raises(NotAllowed) as caught:
        await channel.send(external, [Reply(text="Tin của tổ")])
    assert caught.value.reason == "zalo_window"
    assert len(fake.attempts) == attempts


async def test_rate_quota_and_unfollowed_answers(bot: App, fake: FakeOA) -> None:
    citizen = OACitizen(bot, fake)
    await citizen.follow()
    channel = oa_channel(bot)
    external = f"{OA_ID}:{citizen.user_id}"
    fake.failures = [-32]
    with pytest.raises(RetryAfter):
        await channel.send(external, [Reply(text="một")])
    fake.failures = [-211]
    with pytest.raises(RetryAfter) as quota:
        await channel.send(external, [Reply(text="hai")])
    assert quota.value.seconds >= 60
    fake.failures = [-213]
    with pytest.raises(Unreachable):
        await channel.send(external, [Reply(text="ba")])


async def test_unfollow_marks_the_citizen_unreachable(bot: App, fake: FakeOA, db: Database) -> None:
    citizen = OACitizen(bot, fake)
    await citizen.follow()
    await citizen.event(citizen.body("unfollow"))
    async with db.transaction() as session:
        user = (await session.execute(select(User))).scalar_one()
    assert user.unreachable_at is not None
    await citizen.follow()
    async with db.transaction() as session:
        user = (await session.execute(select(User))).scalar_one()
    assert user.unreachable_at is None


async def test_no_token_or_secret_in_logs(
    bot: App, fake: FakeOA, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    citizen = OACitizen(bot, fake)
    await citizen.follow()
    fake.expire_access(OA_ID)
    await citizen.say("xin chào")
    await citizen.post(citizen.body("user_send_text", "x"), headers={"X-ZEvent-Signature": "mac=0"})
    fake.failures = [-32, -216]
    await citizen.say("menu")
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "SECRET" not in text
    for secret in (SECRET_KEY, APP_SECRET, "Zb0dbR9x"):
        assert secret not in text


async def test_connect_link_and_oauth_callback_store_the_oa_once(
    bot: App, fake: FakeOA, db: Database
) -> None:
    from urllib.parse import parse_qs, urlparse

    import aiohttp

    from tests.fake_zalo_oa import port

    link = await accounts(bot).start_connect("https://bot.example.vn/zalo-oa/oauth", ["BAC001"])
    query = parse_qs(urlparse(link).query)
    assert link.startswith(f"{fake.base_url}/v4/oa/permission?")
    assert query["redirect_uri"] == ["https://bot.example.vn/zalo-oa/oauth"]
    assert len(query["code_challenge"][0]) == 43 and "=" not in query["code_challenge"][0]
    other = "1234567890123456789"
    fake.grant(other, "code-1", query["code_challenge"][0], name="UBND xã Khác")
    base = f"http://127.0.0.1:{port(bot)}/zalo-oa/oauth"
    params = {"code": "code-1", "oa_id": other, "state": query["state"][0]}
    async with aiohttp.ClientSession() as http:
        async with http.get(base, params=params) as response:
            assert response.status == 200
            assert "UBND xã Khác" in await response.text()
        async with http.get(base, params=params) as response:
            assert response.status == 400  # the state is single use
        async with http.get(base, params={**params, "state": "forged"}) as response:
            assert response.status == 400
    async with db.transaction() as session:
        from storage.repos.zalo_oa import ZaloOARepo

        repo = ZaloOARepo(session)
        stored = await repo.get(other)
        assert stored is not None and stored.name == "UBND xã Khác"
        assert [t.code for t in await repo.teams(other)] == ["BAC001"]


async def test_add_with_a_bad_refresh_token_fails_and_stores_nothing(
    bot: App, fake: FakeOA, db: Database
) -> None:
    from bot.channels.zalo_oa.api import OAuthError

    with pytest.raises(OAuthError):
        await accounts(bot).add("1111111111111111111", "not-a-token", [])
    async with db.transaction() as session:
        assert len((await session.execute(select(ZaloOA))).scalars().all()) == 1


async def test_qr_poster_of_a_team_on_an_oa_carries_the_oa_link_and_name(
    config: Config, tmp_path: Path, fake: FakeOA
) -> None:
    import io

    import zxingcpp
    from PIL import Image

    from bot.commands.run import prepare_database
    from bot.commands.team import _qr_target
    from bot.content.messages import messages_from
    from bot.reports.poster import poster_png
    from bot.zalo_oa import accounts_from_config

    url = f"sqlite+aiosqlite:///{tmp_path / 'poster.db'}"
    cfg = oa_config(replace(config, database=DatabaseConfig(url=url)), fake)
    await prepare_database(cfg)
    db = Database(url)
    try:
        async with db.transaction() as session:
            await TeamRepo(session).create("Tổ CNS thôn Đông", "xã Đông Hòa", "thôn Đông", "DONG01")
            await TeamRepo(session).create("Tổ CNS thôn Nam", "xã Đông Hòa", "thôn Nam", "NAM001")
        linked = accounts_from_config(cfg, db)
        await linked.add(OA_ID, fake.new_oa(), ["DONG01"])
        await linked.client.close()
    finally:
        await db.dispose()
    team, link, name = await _qr_target(cfg, "DONG01")
    assert team is not None and link == f"https://zalo.me/{OA_ID}" and name == "UBND xã Đông Hòa"
    png = poster_png(cfg, messages_from(cfg.path(cfg.content.dir)), team, link, name)
    with Image.open(io.BytesIO(png)) as image:
        assert [r.text for r in zxingcpp.read_barcodes(image)] == [link]
    other, other_link, other_name = await _qr_target(cfg, "NAM001")
    assert other is not None and other_name is None and other_link != link


async def test_follow_up_list_shows_oa_citizens_outside_the_window(
    bot: App, fake: FakeOA, db: Database
) -> None:
    from bot.channels.memory import RICH, MemoryChannel

    citizen = OACitizen(bot, fake)
    sent = await citizen.follow()
    sent = await citizen.tap(sent, "Đồng ý")
    await citizen.tap(sent, "thôn Đông")
    async with db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.channel == "zalo_oa")
            .values(last_seen=utcnow() - timedelta(days=9), display_name="Bác Tư")
        )
        team = await TeamRepo(session).by_code("DONG01")
        assert team is not None
        invite = await TeamRepo(session).invite(team.id, "member", timedelta(days=1))
    member = MemoryChannel(bot.core, name="memory", capabilities=RICH)
    bot.channels[member.name] = member
    await member.say("lan", "/start", display_name="Chị Lan")
    await member.press("lan", "Đồng ý")
    await member.say("lan", invite.code)
    await member.say("lan", "tổ của tôi")
    replies = await member.press("lan", "Ai cần giúp")
    text = "\n".join(r.text for r in replies)
    assert "Cần gặp trực tiếp" in text and "Bác Tư" in text and "9 ngày" in text


async def test_a_member_answering_a_citizen_out_of_the_window_is_told_to_meet_them(
    bot: App, fake: FakeOA, db: Database
) -> None:
    from bot.channels.memory import RICH, MemoryChannel

    citizen = OACitizen(bot, fake)
    sent = await citizen.follow()
    sent = await citizen.tap(sent, "Đồng ý")
    await citizen.tap(sent, "thôn Đông")
    member = MemoryChannel(bot.core, name="memory", capabilities=RICH)
    bot.channels[member.name] = member
    async with db.transaction() as session:
        team = await TeamRepo(session).by_code("DONG01")
        assert team is not None
        invite = await TeamRepo(session).invite(team.id, "member", timedelta(days=1))
    await member.say("lan", "/start", display_name="Chị Lan")
    await member.press("lan", "Đồng ý")
    await member.say("lan", invite.code)
    await citizen.say("hỏi tổ")
    await citizen.say("Làm sao để đổi chủ thuê bao điện thoại?")
    assert any("Câu hỏi mới" in r.text for r in member.sent.get("lan", []))
    async with db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.channel == "zalo_oa")
            .values(last_seen=utcnow() - timedelta(days=8))
        )
    await member.press("lan", "Trả lời")
    attempts = len(fake.attempts)
    replies = await member.say("lan", "Bác mang căn cước ra cửa hàng nhà mạng.")
    assert "quá 7 ngày chưa nhắn Zalo OA" in "\n".join(r.text for r in replies)
    assert len(fake.attempts) == attempts  # not attempted
