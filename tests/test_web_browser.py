"""End to end in a real browser: the chat page served by `trolyso run`'s server."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.app import App
from tests.browser import Browser, find_chromium

CHROMIUM = find_chromium()

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
)


async def test_greeting_consent_and_menu_in_a_browser(app: App, tmp_path: Path) -> None:
    await app.start()
    assert app.runner is not None
    host, port = app.runner.addresses[0][:2]
    url = f"http://{host}:{port}/"
    assert CHROMIUM is not None
    try:
        browser = await Browser(CHROMIUM).__aenter__()
    except RuntimeError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"cannot start Chromium here: {exc}")
    try:
        await browser.goto(url)
        await browser.wait_for_text("Trợ lý số")
        await browser.type_and_send("xin chào")
        await browser.wait_for_text("Đồng ý")
        await browser.click_button("Đồng ý")
        await browser.wait_for_text("Bạn muốn làm gì?")
        await browser.click_button("Liên hệ tổ công nghệ số")
        await browser.wait_for_text("sẵn lòng giúp tận nơi")
        shot = Path(os.environ.get("TROLYSO_SCREENSHOT", tmp_path / "chat.png"))
        await browser.screenshot(shot)
        assert (await asyncio.to_thread(shot.read_bytes))[:4] == b"\x89PNG"
    finally:
        await browser.__aexit__(None, None, None)
