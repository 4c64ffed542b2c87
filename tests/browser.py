"""A tiny headless Chromium driver over the DevTools protocol (aiohttp's WebSocket client).

Enough for an end-to-end test of the chat page: open a URL, run JavaScript, wait for text,
take a screenshot. Uses Debian's ``chromium``; no browser download.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from tests.waiting import eventually

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--window-size=420,860",
]


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def find_chromium() -> str | None:
    """The Chromium executable, if installed."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium with one page."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.profile = tempfile.TemporaryDirectory(
            prefix="trolyso-chromium-", ignore_cleanup_errors=True
        )  # Chromium helpers may still write in it as it goes
        self.process: asyncio.subprocess.Process | None = None
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ids = itertools.count(1)

    async def __aenter__(self) -> Browser:
        self.process = await asyncio.create_subprocess_exec(
            self.executable,
            *FLAGS,
            f"--user-data-dir={self.profile.name}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        port_file = Path(self.profile.name) / "DevToolsActivePort"
        process = self.process

        async def devtools_port() -> str:
            if process.returncode is not None:
                raise RuntimeError("Chromium did not start")
            return await asyncio.to_thread(_read, port_file)

        try:
            content = await eventually(devtools_port, within=30, every=0.1)
        except AssertionError as exc:
            raise RuntimeError("Chromium did not start") from exc
        port = int(content.split()[0])
        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{port}/json/list") as response:
            targets = await response.json()
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = await self.session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.session is not None:
            await self.session.close()
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), timeout=10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.profile.cleanup()

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and wait for its result."""
        assert self.ws is not None
        message_id = next(self.ids)
        await self.ws.send_str(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = await asyncio.wait_for(self.ws.receive(), timeout=30)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"DevTools connection closed: {message.type}")
            data = json.loads(message.data)
            if data.get("id") == message_id:
                if "error" in data:
                    raise RuntimeError(data["error"])
                return data.get("result", {})  # type: ignore[no-any-return]

    async def goto(self, url: str) -> None:
        """Open a page."""
        await self.call("Page.enable")
        await self.call("Page.navigate", url=url)

    async def phone(self, width: int = 360, height: int = 740) -> None:
        """Emulate a phone screen of ``width`` × ``height`` CSS pixels."""
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=2,
            mobile=True,
        )

    async def reload(self) -> None:
        """Reload the page (cookies and storage kept, like a citizen pressing reload)."""
        await self.js("window.__beforeReload = true; location.reload(); true")
        fresh = "window.__beforeReload !== true && document.readyState === 'complete'"
        # False while the old page, or no page, is there
        await eventually(lambda: self._probe(fresh), within=15, every=0.05)

    async def js(self, expression: str) -> Any:
        """Evaluate JavaScript in the page and return its value."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result.get("result", {}).get("value")

    async def wait_for_text(self, text: str, seconds: float = 15) -> None:
        """Wait until the page shows ``text``."""
        probe = f"document.body && document.body.innerText.includes({json.dumps(text)})"
        await eventually(
            lambda: self._probe(probe),
            within=seconds,
            every=0.1,
            describe=lambda: self.js("document.body ? document.body.innerText : ''"),
        )

    async def _probe(self, expression: str) -> bool:
        """A check that may run while the page is (re)loading."""
        try:
            return bool(await self.js(expression))
        except RuntimeError:  # the page's context was replaced by a reload
            return False

    async def wait_for(self, expression: str, seconds: float = 15) -> None:
        """Wait until a JavaScript expression is true."""
        await eventually(
            lambda: self._probe(expression), within=seconds, every=0.1, describe=lambda: expression
        )

    async def click_button(self, label: str) -> None:
        """Click the last button whose text contains ``label``."""
        clicked = await self.js(
            "(() => { const b = [...document.querySelectorAll('button')]"
            f".filter(x => x.textContent.includes({json.dumps(label)})).pop();"
            " if (!b) return false; b.click(); return true; })()"
        )
        assert clicked, f"no button {label!r}"

    async def type_and_send(self, text: str) -> None:
        """Type into the message box and submit."""
        await self.js(
            f"document.getElementById('text').value = {json.dumps(text)};"
            "document.getElementById('form').requestSubmit(); true"
        )

    async def screenshot(self, path: Path) -> None:
        """Save a PNG of the page."""
        data = await self.call("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(data["data"]))
