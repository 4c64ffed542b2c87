"""The dashboard end to end in real Chromium, at phone (360×740) and desktop (1280×800) sizes.

A member signs in through the link the chat gave them, sees only their team, answers a waiting
question (it arrives on the citizen's channel) and composes a broadcast (its report shows).
Screenshots are saved for review; their folder is printed.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.channels.memory import MemoryChannel
from bot.config import Config
from storage.db import Database
from storage.repos.teams import ProgressRepo
from tests.browser import Browser, find_chromium
from tests.replies import texts
from tests.test_dashboard import ask, chat_link, citizen_of
from tests.test_teams import make_member, make_team, user_row
from tests.waiting import eventually

CHROMIUM = find_chromium()

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
async def served(config: Config, db: Database) -> AsyncIterator[tuple[App, MemoryChannel, str]]:
    """The bot serving HTTP on a free port, without quiet hours (broadcasts go now)."""
    config = replace(config, broadcast=replace(config.broadcast, quiet_start="", quiet_end=""))
    app = build_app(config, db=db)
    chat = MemoryChannel(app.core, name="memory")
    app.channels[chat.name] = chat
    await app.start()
    assert app.runner is not None
    host, port = app.runner.addresses[0][:2]
    try:
        yield app, chat, f"http://{host}:{port}"
    finally:
        await app.stop()


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    assert CHROMIUM is not None
    try:
        browser = await Browser(CHROMIUM).__aenter__()
    except RuntimeError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"cannot start Chromium here: {exc}")
    try:
        yield browser
    finally:
        await browser.__aexit__(None, None, None)


async def fill(page: Browser, selector: str, value: str) -> None:
    await page.js(f"document.querySelector({json.dumps(selector)}).value = {json.dumps(value)}")


async def submit(page: Browser, selector: str) -> None:
    await page.js(
        "window.__old = true;"
        f"document.querySelector({json.dumps(selector)}).closest('form').requestSubmit(); true"
    )
    await page.wait_for("window.__old !== true && document.readyState === 'complete'")


async def open_page(page: Browser, url: str) -> None:
    await page.js("window.__old = true")
    await page.goto(url)
    await page.wait_for("window.__old !== true && document.readyState === 'complete'")


@pytest.mark.parametrize("size", ["phone", "desktop"])
async def test_a_member_runs_the_dashboard(
    served: tuple[App, MemoryChannel, str], chromium: Browser, size: str
) -> None:
    app, chat, base = served
    shots = Path(tempfile.mkdtemp(prefix=f"trolyso-dashboard-{size}-"))
    print(f"dashboard screenshots ({size}): {shots}")
    if size == "phone":
        await chromium.phone(360, 740)
    else:
        await chromium.call(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=800,
            deviceScaleFactor=1,
            mobile=False,
        )
    east, west = await make_team(app, "Thôn Đông"), await make_team(app, "Thôn Tây")
    await make_member(app, chat, "mem", east)
    await citizen_of(app, chat, "cit", east, "Bà Đông")
    await citizen_of(app, chat, "far", west, "Ông Tây")
    await ask(app, "cit", east, "Làm sao cài VNeID?")
    async with app.db.transaction() as session:
        citizen = await user_row(app, "cit")
        await ProgressRepo(session).guide(citizen.id, "sk_vneid_level2", east.id, None)

    # Sign in through the link the chat gave
    await open_page(chromium, base + await chat_link(chat, "mem"))
    await chromium.wait_for_text("Vào trang quản lý")
    await submit(chromium, "#enter")
    await chromium.wait_for_text("người dân")
    assert await chromium.js("document.getElementById('citizens').textContent") == "1"
    assert await chromium.js(NO_SIDEWAYS_SCROLL)
    await chromium.screenshot(shots / "1-tong-quan.png")

    # The weekly chart fits the screen, its text at a readable size, its numbers in a table
    await chromium.js("document.getElementById('theo-tuan').scrollIntoView(); true")
    width = await chromium.js(
        "document.querySelector('svg.chart.weekly').getBoundingClientRect().width"
    )
    assert 300 <= float(width) <= (360 if size == "phone" else 660)
    scale = float(width) / 360  # the chart's text is 12-15 units high in a 360-unit-wide box
    assert 12 * scale >= 10.5
    assert await chromium.js("document.querySelector('#weeks td') !== null")
    await chromium.screenshot(shots / "1b-theo-tuan.png")

    # Only the right team
    await open_page(chromium, base + "/quan-ly/nguoi-dan")
    await chromium.wait_for_text("Bà Đông")
    assert "Ông Tây" not in await chromium.js("document.body.innerText")
    await chromium.screenshot(shots / "2-nguoi-dan.png")

    # Answer the waiting question: it arrives on the citizen's channel
    await open_page(chromium, base + "/quan-ly/cau-hoi")
    await chromium.wait_for_text("Làm sao cài VNeID?")
    await chromium.screenshot(shots / "3-cau-hoi.png")
    await fill(chromium, "textarea[name=text]", "Bác mang căn cước ra công an xã nhé.")
    await submit(chromium, "textarea[name=text]")
    await chromium.wait_for_text("Đã gửi câu trả lời")
    assert "Bác mang căn cước ra công an xã nhé." in texts(chat.sent["cit"])
    assert await chromium.js(NO_SIDEWAYS_SCROLL)

    # Compose a short broadcast, preview it with its recipient count, send, see its report
    await open_page(chromium, base + "/quan-ly/thong-bao")
    await chromium.js("document.querySelector('input[value=announcement]').checked = true")
    await fill(chromium, "textarea[name=text]", "Tối nay họp thôn lúc 19:30.")
    await submit(chromium, "textarea[name=text]")
    await chromium.wait_for_text("Sẽ gửi cho 1 người")
    await chromium.screenshot(shots / "4-xem-truoc.png")
    await submit(chromium, "form[action='/quan-ly/thong-bao/gui'] button")
    await chromium.wait_for_text("Tin đã gửi")

    async def delivered() -> bool:
        return "Tối nay họp thôn lúc 19:30." in texts(chat.sent.get("cit", []))

    await eventually(delivered, within=20)
    assert "far" not in chat.sent

    async def reported() -> bool:
        await open_page(chromium, base + "/quan-ly/thong-bao")
        return "Đã gửi: 1" in str(await chromium.js("document.body.innerText"))

    await eventually(reported, within=20, every=0.5)
    await chromium.screenshot(shots / "5-bao-cao.png")
    assert (shots / "5-bao-cao.png").stat().st_size > 1000
