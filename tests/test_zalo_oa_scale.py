"""The Zalo OA channel with other processes and the broadcast worker: two processes refresh
one OA at once and burn one refresh token; a broadcast to a team on an OA reaches each citizen
inside Zalo's 7-day window once and reports the others; -32 slows the OA's lane; a team member
on Telegram answers a citizen on an OA. On SQLite and PostgreSQL where the database matters."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.app import build_app
from bot.broadcast.compose import report_text
from bot.broadcast.worker import BroadcastWorker
from bot.config import Config, TelegramConfig
from bot.zalo_oa import Accounts
from storage.db import Database
from storage.models import Broadcast, User, ZaloOA, utcnow
from storage.repos.teams import TeamRepo
from storage.repos.zalo_oa import ZaloOARepo
from tests.broadcast_helpers import fast_config, lesson_broadcast, tally, village
from tests.fake_telegram import FakeTelegram
from tests.fake_zalo_oa import OA_ID, FakeOA, OACitizen, oa_channel, oa_config, start_bot
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent


async def test_two_processes_refreshing_at_once_burn_one_refresh_token(
    config: Config, any_db: Database
) -> None:
    fake = await FakeOA().start()
    app = build_app(oa_config(config, fake), db=any_db)
    try:
        accounts = oa_channel(app).accounts
        assert isinstance(accounts, Accounts)
        await accounts.add(OA_ID, fake.new_oa(), [])
        async with any_db.transaction() as session:
            seen = (await ZaloOARepo(session).get(OA_ID)).token_version  # type: ignore[union-attr]
        fake.refresh_delay = 0.5  # both processes are inside the refresh at once
        calls = len(fake.refresh_calls)
        start_at = time.time() + 2.0
        url = any_db.url.render_as_string(hide_password=False)
        children = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.zalo_oa_refresh_child",
                url,
                fake.base_url,
                OA_ID,
                str(seen),
                str(start_at),
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        outputs = [await asyncio.wait_for(c.communicate(), 60) for c in children]
        for child, (_out, err) in zip(children, outputs, strict=True):
            assert child.returncode == 0, err.decode()
        lines = sorted(out.decode().strip() for out, _ in outputs)
        assert lines == [f"version={seen + 1} refreshed=0", f"version={seen + 1} refreshed=1"]
        assert len(fake.refresh_calls) == calls + 1
        assert fake.refused_refreshes == 0
        async with any_db.transaction() as session:
            row = await ZaloOARepo(session).get(OA_ID)
        assert row is not None and row.token_version == seen + 1
        assert accounts.cipher.decrypt(row.refresh_token) in fake.refresh_tokens
    finally:
        await app.stop()
        await fake.stop()


async def test_broadcast_to_an_oa_team_inside_the_window_once_and_reports_the_rest(
    config: Config, any_db: Database
) -> None:
    fake = await FakeOA().start()
    app = build_app(oa_config(config, fake), db=any_db)
    channel = oa_channel(app)
    channel.rate_pause = 0.3
    try:
        accounts = channel.accounts
        assert isinstance(accounts, Accounts)
        now = utcnow()
        team_id, ids = await village(
            any_db, 10, channel="zalo_oa", prefix=f"{OA_ID}:u", code="DONG01", now=now
        )
        old = ids[6:]  # four citizens last wrote eight days ago
        async with any_db.transaction() as session:
            await session.execute(
                update(User).where(User.id.in_(old)).values(last_seen=now - timedelta(days=8))
            )
        await accounts.add(OA_ID, fake.new_oa(), ["DONG01"])
        bid = await lesson_broadcast(any_db, team_id, at=now)
        fake.failures = [-32]  # the OA is over its rate once
        worker = BroadcastWorker(app.services, {"zalo_oa": channel}, config=fast_config())
        deadline = time.monotonic() + 20
        while True:
            await worker.run_once()
            counts = await tally(any_db, bid)
            if counts.get("sent", 0) + counts.get("skipped", 0) == 10:
                break
            assert time.monotonic() < deadline, counts
            await asyncio.sleep(0.05)
        lane = worker.paces[f"zalo_oa:{OA_ID}"]
        assert lane.resume_at > 0  # -32 held the OA's lane
        inside = {f"u{i}" for i in range(6)}
        got = [s.user_id for s in fake.sent]
        assert sorted(got) == sorted(inside)  # each once
        assert len(fake.attempts) == len(inside) + 1  # the -32, then no storm
        assert counts["sent"] == 6 and counts["skipped:zalo_window"] == 4
        async with any_db.transaction() as session:
            broadcast = await session.get(Broadcast, bid)
            reachable = (
                await session.execute(select(User).where(User.unreachable_at.is_not(None)))
            ).all()
        assert reachable == []  # out of the window is not "blocked"
        assert broadcast is not None
        text = report_text(app.services.store.current.messages, broadcast, counts)
        assert "4 người quá 7 ngày chưa nhắn Zalo OA" in text
        async with any_db.transaction() as session:
            out = await ZaloOARepo(session).out_of_window(team_id, now - timedelta(days=7))
        assert sorted(u.id for u in out) == sorted(old)
    finally:
        await app.stop()
        await fake.stop()


async def test_telegram_member_answers_a_citizen_on_an_oa(config: Config, db: Database) -> None:
    fake = await FakeOA().start()
    tfake = FakeTelegram()
    await tfake.start()
    both = oa_config(config, fake, telegram_token=tfake.token)
    both = replace(both, telegram=TelegramConfig(base_url=tfake.base_url))
    app = build_app(both, db=db)
    async with db.transaction() as session:
        teams = TeamRepo(session)
        team = await teams.create("Tổ CNS thôn Đông", "Xã Tân Hòa", "Thôn Đông", "DONG01")
        member_code = (await teams.invite(team.id, "member", timedelta(days=1))).code
    try:
        await app.start()
        accounts = oa_channel(app).accounts
        assert isinstance(accounts, Accounts)
        await accounts.add(OA_ID, fake.new_oa(), ["DONG01"])

        async def press(label: str) -> None:
            before = len(tfake.sent_to(77))
            tfake.push(tfake.callback_update(77, tfake.button(77, label)))
            await tfake.wait_for(lambda: len(tfake.sent_to(77)) > before)
            await tfake.quiet(0.2)

        tfake.push(tfake.text_update(77, f"/start {member_code}", first_name="Nam"))
        await tfake.wait_for(lambda: tfake.last_keyboard(77))
        await press("Đồng ý")

        citizen = OACitizen(app, fake)
        sent = await citizen.follow()
        sent = await citizen.tap(sent, "Đồng ý")
        sent = await citizen.tap(sent, "Thôn Đông")
        await citizen.say("hỏi tổ")
        sent = await citizen.say("Làm sao để đổi chủ thuê bao điện thoại?")
        assert "Mình đã gửi câu hỏi của bạn cho Tổ CNS thôn Đông" in "\n".join(s.text for s in sent)
        await tfake.wait_for(lambda: "Câu hỏi mới cho Tổ CNS thôn Đông" in tfake.texts_to(77))
        await press("Trả lời")
        before = len(fake.to(citizen.user_id))
        tfake.push(tfake.text_update(77, "Bác mang căn cước ra cửa hàng nhà mạng."))
        await eventually(lambda: len(fake.to(citizen.user_id)) > before)
        delivered = "\n".join(fake.texts(citizen.user_id, since=before))
        assert "Tổ CNS thôn Đông trả lời câu hỏi của bạn" in delivered
        assert "cửa hàng nhà mạng" in delivered
    finally:
        await app.stop()
        await tfake.stop()
        await fake.stop()


async def test_start_up_fails_clearly_without_the_token_key(config: Config, db: Database) -> None:
    fake = await FakeOA().start()
    first = await start_bot(config, db, fake)
    try:
        accounts = oa_channel(first).accounts
        assert isinstance(accounts, Accounts)
        await accounts.add(OA_ID, fake.new_oa(), [])
    finally:
        await first.stop()
    db2 = Database(db.url.render_as_string(hide_password=False))
    app = build_app(oa_config(config, fake, zalo_oa_token_key=""), db=db2)
    try:
        try:
            await app.start()
        except SystemExit as exc:
            assert "ZALO_OA_TOKEN_KEY" in str(exc)
        else:
            raise AssertionError("the bot started without the token key")
        async with db2.transaction() as session:
            assert (await session.execute(select(ZaloOA))).scalar_one().oa_id == OA_ID
    finally:
        await app.stop()
        await fake.stop()
