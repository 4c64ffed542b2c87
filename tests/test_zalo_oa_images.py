"""Images on the Zalo OA channel: a content image is uploaded once (``upload/image``) and its
``attachment_id`` re-used while valid, uploaded again after; a refused image falls back to text."""

from __future__ import annotations

import io
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import update

from bot.app import App
from bot.config import Config
from bot.core.replies import Reply
from bot.zalo_oa import Accounts
from storage.db import Database
from storage.models import ZaloOAImage, utcnow
from tests.conftest import CONTENT, with_content
from tests.fake_zalo_oa import OA_ID, FakeOA, OACitizen, oa_channel, start_bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeOA]:
    server = await FakeOA().start()
    yield server
    await server.stop()


@pytest.fixture
async def bot(config: Config, db: Database, fake: FakeOA, tmp_path: Path) -> AsyncIterator[App]:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "img").mkdir()
    out = io.BytesIO()
    Image.new("RGB", (40, 40), "navy").save(out, format="PNG")
    (content / "img" / "vneid.png").write_bytes(out.getvalue())
    app = await start_bot(with_content(config, content), db, fake)
    accounts = oa_channel(app).accounts
    assert isinstance(accounts, Accounts)
    await accounts.add(OA_ID, fake.new_oa(), [])
    yield app
    await app.stop()


async def test_a_content_image_is_uploaded_once_and_reused_while_valid(
    bot: App, fake: FakeOA, db: Database
) -> None:
    citizen = OACitizen(bot, fake)
    await citizen.follow()
    channel = oa_channel(bot)
    external = f"{OA_ID}:{citizen.user_id}"
    picture = Reply.picture("img/vneid.png", "Mở ứng dụng VNeID")
    await channel.deliver(external, [picture])
    await channel.deliver(external, [picture])
    assert fake.uploads == 1
    images = [
        s
        for s in fake.to(citizen.user_id)
        if s.message.get("attachment", {}).get("payload", {}).get("template_type") == "media"
    ]
    assert len(images) == 2
    for sent in images:
        element = sent.message["attachment"]["payload"]["elements"][0]
        assert element == {"media_type": "image", "attachment_id": "att1"}
        assert sent.text == "Mở ứng dụng VNeID"
    async with db.transaction() as session:
        await session.execute(update(ZaloOAImage).values(uploaded_at=utcnow() - timedelta(days=7)))
    await channel.deliver(external, [picture])
    assert fake.uploads == 2  # expired uploads are not re-used


async def test_a_missing_image_sends_its_caption(bot: App, fake: FakeOA) -> None:
    citizen = OACitizen(bot, fake)
    await citizen.follow()
    before = len(fake.to(citizen.user_id))
    await oa_channel(bot).deliver(
        f"{OA_ID}:{citizen.user_id}", [Reply.picture("img/none.png", "Chỉ có chữ")]
    )
    assert fake.texts(citizen.user_id, since=before) == ["Chỉ có chữ"]
