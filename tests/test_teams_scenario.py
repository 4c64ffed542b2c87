"""The teams issue's scenario, end to end, through the web chat API over real HTTP and the
``trolyso`` command line (real subprocesses on the same database):

an admin creates a team and a member invite (CLI); the member joins by the code (web chat); a
citizen joins by the team code, takes a lesson, gets no answer to a question and sends it to the
team; the member receives it in their inbox, answers, and the citizen receives the answer; the
member's CSV (download link) and ``trolyso report`` show the citizen and their skills; the
citizen deletes their data and the report no longer names them; the QR poster decodes to the
team's Telegram link."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image

from bot.app import App, build_app
from bot.config import Config
from storage.migrate import upgrade
from tests.conftest import CONTENT, ROOT

SKILL = "sk_spot_phishing"

Replies = list[dict[str, Any]]


class WebUser:
    """Someone on the web chat: /api/chat for turns, /api/inbox for what is pushed to them."""

    def __init__(self, client: TestClient, name: str) -> None:  # type: ignore[type-arg]
        self.client = client
        self.name = name  # an embedding website sends the name it knows, like a messenger
        self.token = ""  # the server issues it on the first turn
        self.last: Replies = []

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def post(self, body: dict[str, Any]) -> Replies:
        payload = {"name": self.name, **body}
        response = await self.client.post("/api/chat", json=payload, headers=self.headers())
        assert response.status == 200, await response.text()
        data = await response.json()
        self.token = self.token or data["token"]
        self.last = data["replies"]
        return self.last

    async def say(self, text: str) -> Replies:
        return await self.post({"text": text})

    async def press(self, label: str) -> Replies:
        for reply in reversed(self.last):
            for button in reply["buttons"]:
                if button["label"] == label or label in button["label"]:
                    return await self.post({"button": button["payload"]})
        raise AssertionError(f"no button {label!r} in {self.labels()}")

    async def inbox(self) -> Replies:
        response = await self.client.post("/api/inbox", json={}, headers=self.headers())
        assert response.status == 200
        self.last = (await response.json())["replies"]
        return self.last

    def labels(self) -> list[str]:
        return [b["label"] for r in self.last for b in r["buttons"]]

    def text(self) -> str:
        return "\n".join(r["text"] for r in self.last)


def cli(config: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(config.parent)},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
async def setup(config: Config, tmp_path: Path) -> AsyncIterator[tuple[App, TestClient, Path]]:  # type: ignore[type-arg]
    url = f"sqlite+aiosqlite:///{tmp_path / 'scenario.db'}"
    config = replace(
        config,
        database=replace(config.database, url=url),
        teams=replace(config.teams, telegram_bot="trolyso_xa_bot"),
    )
    await upgrade(url)  # as `trolyso run` does: the CLI shares this database
    path = tmp_path / "config.yaml"
    path.write_text(
        f"database:\n  url: {url}\ncontent:\n  dir: {CONTENT}\n  watch: false\n"
        "teams:\n  telegram_bot: trolyso_xa_bot\n",
        encoding="utf-8",
    )
    app = build_app(config)
    jar = DummyCookieJar()  # API clients: each WebUser names itself by its token
    async with TestClient(TestServer(app.web_app(), host="127.0.0.1"), cookie_jar=jar) as client:
        yield app, client, path
    await app.stop()


async def take_lesson(app: App, citizen: WebUser) -> str:
    """Pass a lesson through the chat with the right answers; returns its title."""
    skill = app.store.current.lessons.get(SKILL)
    assert skill is not None
    await citizen.press("Bài học")
    await citizen.press(skill.title)
    for _ in skill.steps:
        await citizen.press("Tiếp")
    for question in skill.quiz:
        await citizen.press(question.answer)
    assert "Chúc mừng" in citizen.text()
    return skill.title


async def test_the_whole_team_scenario(
    setup: tuple[App, TestClient, Path],  # type: ignore[type-arg]
) -> None:
    app, client, config = setup
    run = asyncio.to_thread

    # 1. the admin creates the team and a member invite from the command line
    out = await run(
        cli,
        config,
        "team",
        "add",
        "Tổ CNS thôn Đông",
        "--commune",
        "Xã Tân Hòa",
        "--village",
        "Thôn Đông",
        "--code",
        "DONG01",
    )
    assert "Mã tham gia: DONG01" in out
    assert "https://t.me/trolyso_xa_bot?start=DONG01" in out
    out = await run(cli, config, "team", "add-member", "DONG01")
    member_code = out.split("Mã mời thành viên: ")[1].split()[0]

    # 2. the member joins on the web chat with that code
    member = WebUser(client, "Anh Nam")
    await member.say("xin chào")
    await member.press("Đồng ý")
    await member.say(member_code)
    assert "vai trò **thành viên**" in member.text()

    # 3. a citizen joins by the team's code, and passes a lesson
    citizen = WebUser(client, "Bác Ba Hương")
    await citizen.say("xin chào")
    await citizen.press("Đồng ý")
    await citizen.say("dong01")
    assert "Bạn đã vào **Tổ CNS thôn Đông**" in citizen.text()
    title = await take_lesson(app, citizen)

    # 4. the bot has no answer; the citizen sends the question to the team
    await citizen.say("thửa đất nhà tôi bị hàng xóm lấn thì kiện ở đâu")
    assert "Gửi câu hỏi cho tổ" in citizen.labels()
    await citizen.press("Gửi câu hỏi cho tổ")
    assert "Mình đã gửi câu hỏi của bạn cho **Tổ CNS thôn Đông**" in citizen.text()

    # 5. the member receives it, answers it in the chat
    await member.inbox()
    assert "Câu hỏi mới cho Tổ CNS thôn Đông" in member.text()
    assert "Bác Ba Hương" in member.text() and "hàng xóm lấn" in member.text()
    await member.press("Trả lời")
    await member.say("Bác mang giấy tờ đất lên UBND xã để được hòa giải trước nhé.")
    assert "Đã gửi câu trả lời cho Bác Ba Hương" in member.text()

    # 6. the citizen receives the answer in their web inbox
    await citizen.inbox()
    assert "Tổ CNS thôn Đông trả lời câu hỏi của bạn" in citizen.text()
    assert "UBND xã để được hòa giải" in citizen.text() and "hàng xóm lấn" in citizen.text()

    # 7. the member's CSV (a download link on the web chat) shows the citizen and the skill
    await member.say("tổ của tôi")
    assert "Người dân trong tổ: 1" in member.text()
    await member.press("Xuất bảng CSV")
    document = next(r["document"] for r in member.last if r.get("document"))
    assert document["name"].endswith(".csv") and document["url"].startswith("/files/")
    response = await client.get(document["url"])
    assert response.status == 200
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["Tên"] == "Bác Ba Hương" and cells["Kênh"] == "web"
    assert cells[f"{title} ({SKILL})"] == "đạt (100%)"

    # 8. the same from the command line
    table = config.parent / "report.csv"
    report = await run(cli, config, "report", "--team", "DONG01", "--csv", str(table))
    assert "Người dân: 1" in report and f"{title}: 1 (1 qua trợ lý, 0 trực tiếp)" in report
    assert "Bác Ba Hương" in table.read_text(encoding="utf-8-sig")

    # 9. the citizen deletes their data: the report no longer names them
    await citizen.say("xóa dữ liệu của tôi")
    await citizen.press("Xóa hết dữ liệu")
    assert "đã xóa toàn bộ dữ liệu" in citizen.text()
    report = await run(cli, config, "report", "--team", "DONG01", "--csv", str(table))
    assert "Bác Ba Hương" not in report and "Người dân: 0" in report
    assert "Đã xóa dữ liệu: 1 người" in report
    assert f"{title}: 1 (1 qua trợ lý, 0 trực tiếp)" in report  # anonymous count kept
    lines = table.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 and "Bác Ba Hương" not in lines[0]
    assert (await client.get(document["url"])).status == 404  # the old CSV is gone too
    await member.say("tổ của tôi")
    await member.press("Tóm tắt")
    assert "Bác Ba Hương" not in member.text() and "Người dân: 0" in member.text()

    # 10. the QR poster for the notice board decodes to the team's Telegram link
    poster = config.parent / "poster.png"
    await run(cli, config, "team", "qr", "DONG01", "--out", str(poster))
    with Image.open(poster) as image:
        decoded = [r.text for r in zxingcpp.read_barcodes(image)]
    assert decoded == ["https://t.me/trolyso_xa_bot?start=DONG01"]
