"""End to end in a real browser (Chromium at phone size): the chat page served by the bot.

A citizen at 360×740 px: every reply ends fully visible (the last button above the input
bar), nothing scrolls sideways, larger text works, and a reload shows the last turns again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app import App
from storage.models import User
from tests.browser import Browser, find_chromium
from tests.waiting import eventually

CHROMIUM = find_chromium()

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)

# The last button of the log sits inside the viewport, above the input bar (null: no button).
LAST_BUTTON_VISIBLE = """(() => {
  const button = [...document.querySelectorAll('#log button')].pop();
  if (!button) return null;
  const r = button.getBoundingClientRect();
  const bar = document.getElementById('form').getBoundingClientRect();
  return r.top >= 0 && r.bottom <= bar.top + 0.5 && r.bottom <= window.innerHeight;
})()"""
NO_SIDEWAYS_SCROLL = """(() => {
  const page = document.documentElement;
  const log = document.getElementById('log');
  return page.scrollWidth <= window.innerWidth && log.scrollWidth <= log.clientWidth;
})()"""
LAST_SAID = "[...document.querySelectorAll('.msg.me')].slice(-3).map(m => m.textContent)"


@pytest.fixture
async def browser(app: App) -> AsyncIterator[tuple[Browser, str]]:
    await app.start()
    assert app.runner is not None
    host, port = app.runner.addresses[0][:2]
    assert CHROMIUM is not None
    try:
        chromium = await Browser(CHROMIUM).__aenter__()
    except RuntimeError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"cannot start Chromium here: {exc}")
    try:
        await chromium.phone(360, 740)
        yield chromium, f"http://{host}:{port}/"
    finally:
        await chromium.__aexit__(None, None, None)


async def reply_fits(browser: Browser, text: str) -> None:
    """Wait for a reply, then check that it ends in view and nothing overflows sideways."""
    await browser.wait_for_text(text)
    assert await browser.js(LAST_BUTTON_VISIBLE) is not False, f"buttons hidden after {text!r}"
    assert await browser.js(NO_SIDEWAYS_SCROLL), f"sideways scroll after {text!r}"


async def test_a_citizen_on_a_phone(app: App, browser: tuple[Browser, str], tmp_path: Path) -> None:
    page, url = browser
    skill = app.store.current.lessons.skills[0]
    await page.goto(url)
    await reply_fits(page, "Đồng ý")  # first visit: greeting and consent, no history
    await page.click_button("Đồng ý")
    await reply_fits(page, "Bỏ qua")  # the optional name, asked once
    await page.click_button("Bỏ qua")
    await reply_fits(page, "Bạn muốn làm gì?")
    await page.click_button("Bài học")
    await reply_fits(page, skill.title)  # a long list of lessons: its end is in view
    await page.click_button(skill.title)
    await reply_fits(page, "Phần 1/")
    for number in range(2, len(skill.steps) + 1):
        await page.click_button("Tiếp")
        await reply_fits(page, f"Phần {number}/")
    await page.click_button("Tiếp")
    await reply_fits(page, skill.quiz[0].text.splitlines()[0])  # quiz choices in view
    await page.click_button(skill.quiz[0].answer)
    await reply_fits(page, skill.quiz[1].text.splitlines()[0])
    await page.type_and_send("cài app ở đâu cho an toàn")  # an answer, with its buttons
    await page.wait_for("document.querySelectorAll('.msg.bot').length > 12")
    await reply_fits(page, "")
    long_word = "https://dichvucong.gov.vn/" + "a" * 120
    await page.type_and_send(long_word)
    await reply_fits(page, long_word[:40])

    # Larger text: bigger letters, still no sideways scroll, the last button still in view.
    await page.js("document.getElementById('bigger').click(); true")
    size = await page.js("getComputedStyle(document.body).fontSize")
    assert size == "23px"
    await reply_fits(page, long_word[:40])
    await page.click_button("Menu")
    await reply_fits(page, "Bạn muốn làm gì?")
    shot = Path(os.environ.get("TROLYSO_SCREENSHOT", tmp_path / "chat.png"))
    await page.screenshot(shot)
    assert (await asyncio.to_thread(shot.read_bytes))[:4] == b"\x89PNG"

    # A reload shows the last turns from the database, not a blank chat nor a new greeting.
    said = await page.js(LAST_SAID)
    await page.reload()
    await page.wait_for(f"{LAST_SAID}.length === 3")  # the history is drawn
    assert await page.js(LAST_SAID) == said
    await reply_fits(page, "Bạn muốn làm gì?")
    await reply_fits(page, long_word[:40])
    assert await page.js("document.documentElement.classList.contains('big')")
    # the latest answer's buttons still work after the reload
    await page.click_button("Liên hệ tổ công nghệ số")
    await reply_fits(page, "sẵn lòng giúp tận nơi")


async def test_the_embed_script_opens_the_chat_on_another_site(
    app: App, browser: tuple[Browser, str]
) -> None:
    """A commune website (another origin) with the script tag: its button opens a working chat."""
    page, url = browser
    bot = url.replace("127.0.0.1", "localhost")  # another site than the commune's page
    site = web.Application()

    async def commune(request: web.Request) -> web.Response:
        html = f'<!doctype html><h1>UBND xã</h1><script src="{bot}embed.js" defer></script>'
        return web.Response(text=html, content_type="text/html")

    site.router.add_get("/", commune)
    runner = web.AppRunner(site)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    try:
        port = runner.addresses[0][1]
        await page.goto(f"http://127.0.0.1:{port}/")
        await page.wait_for_text("Hỏi Trợ lý số")
        await page.click_button("Hỏi Trợ lý số")
        await page.wait_for(f"document.querySelector('iframe')?.src === {bot!r}")
        assert await page.js("document.documentElement.scrollWidth <= window.innerWidth")

        async def greeted() -> bool:
            async with app.db.transaction() as session:
                rows = await session.scalars(select(User.id).where(User.channel == "web"))
                return bool(rows.all())

        # the chat inside the frame greeted its visitor (a turn ran)
        await eventually(greeted, within=10, every=0.1)
    finally:
        await runner.cleanup()
