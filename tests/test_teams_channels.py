"""Teams across real channel adapters in one process: a member on Telegram answers a citizen on
Zalo; reports reach Telegram as uploaded files and Zalo as the summary plus a download link
served by our HTTP server (unguessable, expiring)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta

import aiohttp
from sqlalchemy import select, update

from bot.app import build_app
from bot.config import Config, TelegramConfig, WebConfig
from storage.db import Database
from storage.models import SharedFile, TeamQuestion, utcnow
from storage.repos.teams import TeamRepo
from tests.fake_telegram import FakeTelegram
from tests.fake_zalo import Citizen, FakeZalo, free_port, quick, zalo, zalo_config
from tests.waiting import eventually

MEMBER_CHAT = 77


async def test_telegram_member_answers_zalo_citizen_and_gets_reports(
    config: Config, db: Database
) -> None:
    zfake = await FakeZalo(max_wait=0.2).start()
    tfake = FakeTelegram()
    await tfake.start()
    both = zalo_config(config, zfake, telegram_token=tfake.token)
    both = replace(
        both,
        telegram=TelegramConfig(base_url=tfake.base_url),
        web=WebConfig(host="127.0.0.1", port=free_port()),
    )
    app = build_app(both, db=db)
    quick(zalo(app))
    async with db.transaction() as session:
        teams = TeamRepo(session)
        team = await teams.create("Tổ CNS thôn Đông", "Xã Tân Hòa", "Thôn Đông")
        invite = await teams.invite(team.id, "member", timedelta(days=1))
        member_code, zalo_member_code = (
            invite.code,
            (await teams.invite(team.id, "member", timedelta(days=1))).code,
        )
    try:
        await app.start()

        async def press(label: str) -> None:
            before = len(tfake.sent_to(MEMBER_CHAT))
            tfake.push(tfake.callback_update(MEMBER_CHAT, tfake.button(MEMBER_CHAT, label)))
            await tfake.wait_for(lambda: len(tfake.sent_to(MEMBER_CHAT)) > before)
            await tfake.quiet(0.2)

        # the member opens the invite link on Telegram: consent, then they are a member
        tfake.push(tfake.text_update(MEMBER_CHAT, f"/start {member_code}", first_name="Nam"))
        await tfake.wait_for(lambda: tfake.last_keyboard(MEMBER_CHAT))
        await press("Đồng ý")
        assert "vai trò <b>thành viên</b>" in tfake.texts_to(MEMBER_CHAT)

        # the citizen on Zalo joins by typing the code, and sends a question to the team
        citizen = Citizen(app, zfake, chat_id="zalo-citizen-1", name="Bác Ba")
        await citizen.say("/start")
        await citizen.say(citizen.key("Đồng ý"))
        assert "Bạn đã vào" in await citizen.say(team.code.lower())
        await citizen.say("hỏi tổ")
        sent = await citizen.say("Làm sao để đổi chủ thuê bao điện thoại?")
        assert "Mình đã gửi câu hỏi của bạn cho Tổ CNS thôn Đông" in sent

        # the member gets it on Telegram, answers it there
        await tfake.wait_for(lambda: "Câu hỏi mới cho Tổ CNS thôn Đông" in tfake.texts_to(77))
        assert "Bác Ba" in tfake.texts_to(MEMBER_CHAT)
        await press("Trả lời")
        before = len(zfake.sent("zalo-citizen-1"))
        tfake.push(tfake.text_update(MEMBER_CHAT, "Bác mang căn cước ra cửa hàng nhà mạng."))
        await eventually(lambda: len(zfake.sent("zalo-citizen-1")) > before)
        delivered = "\n".join(zfake.texts("zalo-citizen-1", since=before))
        assert "Tổ CNS thôn Đông trả lời câu hỏi của bạn" in delivered
        assert "cửa hàng nhà mạng" in delivered and "đổi chủ thuê bao" in delivered
        async with db.transaction() as session:
            question = (await session.execute(select(TeamQuestion))).scalar_one()
        assert question.status == "answered" and question.answered_by is not None

        # reports on Telegram: the CSV uploaded as a document, the chart as a photo
        tfake.push(tfake.text_update(MEMBER_CHAT, "tổ của tôi"))
        await tfake.wait_for(lambda: "Người dân trong tổ: 1" in tfake.texts_to(MEMBER_CHAT))
        await tfake.quiet(0.2)
        await press("Xuất bảng CSV")
        await tfake.wait_for(lambda: tfake.of("sendDocument"))
        document = tfake.of("sendDocument")[-1]
        assert document.ok and document.params["document"]["upload"].endswith(".csv")
        assert document.params["document"]["size"] > 100
        await press("Công cụ của tổ")
        photos = len(tfake.of("sendPhoto"))
        await press("Biểu đồ tiến độ")
        await tfake.wait_for(lambda: len(tfake.of("sendPhoto")) > photos)
        assert tfake.of("sendPhoto")[-1].params["photo"]["upload"].endswith(".png")

        # a member on Zalo gets the summary and a download link served by our server
        member = Citizen(app, zfake, chat_id="zalo-member-1", name="Chị Lan")
        await member.say("/start")
        await member.say(member.key("Đồng ý"))
        await member.say(zalo_member_code)
        await member.say("tổ của tôi")
        answer = await member.say(member.key("Xuất bảng CSV"))
        assert "Tóm tắt: Tổ CNS thôn Đông" in answer and "Người dân: 1" in answer
        link = next(line for line in answer.splitlines() if line.startswith("Tải tệp: "))
        url = link.removeprefix("Tải tệp: ").strip()
        assert url.startswith(f"http://127.0.0.1:{both.web.port}/files/")
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as response:
                assert response.status == 200
                assert response.headers["Cache-Control"] == "no-store"
                assert "attachment" in response.headers["Content-Disposition"]
                body = await response.read()
            rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
            assert [r[0] for r in rows[1:]] == ["Bác Ba"]
            async with http.get(url + "x") as response:
                assert response.status == 404  # wrong name
            async with http.get(url.replace("/files/", "/files/A")) as response:
                assert response.status == 404  # wrong token
            async with db.transaction() as session:
                await session.execute(
                    update(SharedFile).values(expires_at=utcnow() - timedelta(seconds=1))
                )
            async with http.get(url) as response:
                assert response.status == 404  # expired
                assert "hết hạn" in await response.text()
    finally:
        await app.stop()
        await tfake.stop()
        await zfake.stop()
