"""The certificate on real channel adapters: a photo upload on Telegram, a photo by its https
link on Zalo and on a Zalo OA (the link served by our own HTTP server, with its unguessable
token), an OA upload when there is no public https address, a download link on the web chat."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import aiohttp
import zxingcpp
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from sqlalchemy import delete, select

from bot.app import App, build_app
from bot.config import Config, TelegramConfig, WebConfig
from bot.zalo_oa import Accounts
from storage.db import Database
from storage.models import Certificate, ZaloOAImage
from storage.repos.certificates import shown
from tests.fake_telegram import FakeTelegram
from tests.fake_zalo import Citizen, FakeZalo, free_port, quick, zalo, zalo_config
from tests.fake_zalo_oa import (
    OA_ID,
    FakeOA,
    OACitizen,
    Sent,
    oa_channel,
    oa_config,
    start_bot,
)
from tests.test_progress import ONE_PER_JOB, pass_directly
from tests.waiting import eventually

CHAT = 4242
PUBLIC = "https://tro-ly-so.example.vn"


def qr_codes(png: bytes) -> list[str]:
    with Image.open(io.BytesIO(png)) as image:
        return [result.text for result in zxingcpp.read_barcodes(image)]


async def the_code(app: App) -> str:
    async with app.db.transaction() as session:
        return (await session.execute(select(Certificate))).scalar_one().code


async def test_telegram_photo_and_zalo_photo_by_https_link(config: Config, db: Database) -> None:
    zfake = await FakeZalo(max_wait=0.2).start()
    tfake = FakeTelegram()
    await tfake.start()
    port = free_port()
    both = zalo_config(config, zfake, telegram_token=tfake.token)
    both = replace(
        both,
        telegram=TelegramConfig(base_url=tfake.base_url),
        web=WebConfig(host="127.0.0.1", port=port, public_url=PUBLIC),
    )
    app = build_app(both, db=db)
    quick(zalo(app))
    try:
        await app.start()
        # Telegram: the certificate is uploaded as a photo
        tfake.push(tfake.text_update(CHAT, "/start", first_name="Hằng"))
        await tfake.wait_for(lambda: tfake.last_keyboard(CHAT))
        tfake.push(tfake.callback_update(CHAT, tfake.button(CHAT, "Đồng ý")))
        await tfake.quiet(0.2)
        await pass_directly(app, str(CHAT), *ONE_PER_JOB.values())
        tfake.push(tfake.text_update(CHAT, "giấy ghi nhận"))
        await tfake.wait_for(lambda: tfake.of("sendPhoto"))
        photo = tfake.of("sendPhoto")[-1]
        assert photo.ok and photo.params["photo"]["upload"].endswith("giay-ghi-nhan.png")
        code = await the_code(app)
        assert shown(code) in tfake.texts_to(CHAT)

        # Zalo: sendPhoto with the file's public https link, which our server answers
        citizen = Citizen(app, zfake, chat_id="zalo-citizen-9", name="Bác Ba")
        await citizen.say("/start")
        await citizen.say(citizen.key("Đồng ý"))
        await pass_directly(app, "zalo-citizen-9", *ONE_PER_JOB.values())
        before = len(zfake.of("sendPhoto"))
        answer = await citizen.say("giấy ghi nhận")
        await eventually(lambda: len(zfake.of("sendPhoto")) > before)
        sent = zfake.of("sendPhoto")[-1]
        url = str(sent.body["photo"])
        assert url.startswith(f"{PUBLIC}/files/") and url.endswith("/giay-ghi-nhan.png")
        assert "Mã xác minh" in answer
        local = url.replace(PUBLIC, f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as http:
            async with http.get(local) as response:
                assert response.status == 200
                assert response.content_type == "image/png"
                png = await response.read()
            async with http.get(local.replace("/files/", "/files/x")) as response:
                assert response.status == 404  # the token is needed
        async with db.transaction() as session:
            codes = [c.code for c in (await session.execute(select(Certificate))).scalars()]
        assert qr_codes(png)[0] in codes and qr_codes(png)[0] != code
    finally:
        await app.stop()
        await tfake.stop()
        await zfake.stop()


async def test_web_chat_download_link_needs_its_token(app: App) -> None:
    server = TestServer(app.web_app(), host="127.0.0.1")
    async with TestClient(server, cookie_jar=DummyCookieJar()) as client:
        token: str | None = None

        async def chat(body: dict[str, str]) -> list[dict[str, object]]:
            nonlocal token
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await client.post("/api/chat", json=body, headers=headers)
            assert response.status == 200
            data = await response.json()
            token = token or data["token"]
            replies: list[dict[str, object]] = data["replies"]
            return replies

        agree = (await chat({"text": "xin chào"}))[-1]["buttons"][0]  # type: ignore[index]
        await chat({"button": agree["payload"]})
        await chat({"text": "Bỏ qua"})
        assert token is not None
        await pass_directly(app, token.split(".")[0], *ONE_PER_JOB.values())
        replies = await chat({"text": "giấy ghi nhận"})
        document = next(r["document"] for r in replies if "document" in r)
        url = str(document["url"])  # type: ignore[index]
        assert url.startswith("/files/") and url.endswith("/giay-ghi-nhan.png")
        response = await client.get(url)
        assert response.status == 200 and response.content_type == "image/png"
        assert qr_codes(await response.read()) == [await the_code(app)]
        assert (await client.get(url.replace("/files/", "/files/Z"))).status == 404


async def _oa_certificate(
    app: App, fake: FakeOA
) -> tuple[OACitizen, list[Sent], list[dict[str, Any]]]:
    """A citizen of an OA reaches the five skills and asks for the certificate: what the OA
    sent, and the media elements among it."""
    accounts = oa_channel(app).accounts
    assert isinstance(accounts, Accounts)
    await accounts.add(OA_ID, fake.new_oa(), [])
    citizen = OACitizen(app, fake)
    await citizen.tap(await citizen.follow(), "Đồng ý")
    await pass_directly(app, f"{OA_ID}:{citizen.user_id}", *ONE_PER_JOB.values())
    sent = await citizen.say("giấy ghi nhận")
    return citizen, sent, _media(sent)


def _media(sent: list[Sent]) -> list[dict[str, Any]]:
    return [
        m.message["attachment"]["payload"]["elements"][0]
        for m in sent
        if m.message.get("attachment", {}).get("payload", {}).get("template_type") == "media"
    ]


async def test_zalo_oa_gets_the_photo_by_its_https_link(config: Config, db: Database) -> None:
    fake = await FakeOA().start()
    app = await start_bot(config, db, fake)
    try:
        _, sent, media = await _oa_certificate(app, fake)
        assert len(media) == 1 and media[0]["media_type"] == "image"
        assert media[0]["url"].startswith("https://bot.example.vn/files/")
        assert media[0]["url"].endswith("/giay-ghi-nhan.png")
        code = shown(await the_code(app))
        assert any(code in m.text for m in sent)
    finally:
        await app.stop()
        await fake.stop()


async def test_zalo_oa_without_a_public_https_address_uploads_the_photo(
    config: Config, db: Database
) -> None:
    fake = await FakeOA().start()
    app = build_app(
        replace(oa_config(config, fake), web=WebConfig(host="127.0.0.1", port=0)), db=db
    )
    await app.start()
    try:
        citizen, sent, media = await _oa_certificate(app, fake)
        assert media == [{"media_type": "image", "attachment_id": "att1"}]
        assert fake.uploads == 1
        assert qr_codes(fake.uploaded[-1]) == [await the_code(app)]
        assert not any("/files/" in m.text for m in sent)  # no download line instead
        # An image Zalo refuses (no upload kept): the download link in words, never nothing
        async with db.transaction() as session:
            await session.execute(delete(ZaloOAImage))
        fake.refuse_images = True
        sent = await citizen.say("giấy ghi nhận")
        assert any("/files/" in m.text and "giay-ghi-nhan.png" in m.text for m in sent)
    finally:
        await app.stop()
        await fake.stop()
