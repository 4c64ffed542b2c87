"""PTB's transport on aiohttp: bodies as PTB's own transport sends them, timeouts and network
failures as PTB's errors, and never the URL (with the token) in an error message."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InputFile
from telegram.error import NetworkError, TimedOut

from bot.channels.telegram_http import AiohttpRequest

TOKEN = "123456:SecretTokenNeverInErrors"


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A tiny Bot API look-alike: records each call's body; ``slow`` sleeps for 2 s."""
    seen: list[dict[str, Any]] = []

    async def call(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            fields = await request.json()
        else:
            form = await request.post()
            fields = {
                k: (v.filename, len(v.file.read())) if isinstance(v, web.FileField) else v
                for k, v in form.items()
            }
        seen.append({"method": method, "type": request.content_type, "fields": fields})
        if method == "slow":
            await asyncio.sleep(2)
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", call)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/bot{TOKEN}", seen
    await runner.cleanup()


async def test_parameters_travel_as_json_and_files_multipart(
    server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, seen = server
    request = AiohttpRequest()
    await request.initialize()
    try:
        status, body = await request.do_request(f"{base}/plain", "POST", None)
        assert status == 200 and b'"ok": true' in body
        bot = Bot(TOKEN, base_url=base.rsplit("/bot", 1)[0] + "/bot", request=request)
        await bot.set_my_commands([("help", "Trợ giúp")])
        photo = InputFile(b"\x89PNG" + b"0" * 60, filename="a.png")
        await bot.send_photo(5, photo, caption="Ảnh <b>mẫu</b>", parse_mode="HTML")
    finally:
        await request.shutdown()
        await request.shutdown()  # twice is harmless
    plain, commands, upload = seen
    assert plain["fields"] == {}
    assert commands["type"] == "application/json"
    assert commands["fields"]["commands"] == [{"command": "help", "description": "Trợ giúp"}]
    assert upload["type"] == "multipart/form-data"
    assert upload["fields"]["caption"] == "Ảnh <b>mẫu</b>"
    assert upload["fields"]["photo"] == ("a.png", 64)


async def test_a_slow_answer_is_a_timeout(server: tuple[str, list[dict[str, Any]]]) -> None:
    base, _ = server
    request = AiohttpRequest(read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut) as caught:
            await request.do_request(f"{base}/slow", "POST")
        # An explicit longer read timeout (as PTB passes for long polling) is honoured.
        with pytest.raises(TimedOut):
            await request.do_request(f"{base}/slow", "POST", read_timeout=0.3)
    finally:
        await request.shutdown()
    assert TOKEN not in str(caught.value)


async def test_network_failure_never_names_the_url() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest(connect_timeout=1.0)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as caught:
            await request.do_request(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe", "POST")
    finally:
        await request.shutdown()
    assert TOKEN not in str(caught.value) and "SecretToken" not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_unusable_before_initialize_and_reusable_after_shutdown(
    server: tuple[str, list[dict[str, Any]]],
) -> None:
    base, _ = server
    request = AiohttpRequest()
    with pytest.raises(RuntimeError):
        await request.do_request(f"{base}/plain", "POST")
    await request.initialize()
    await request.shutdown()
    await request.initialize()  # PTB re-initialises a bot after a stop
    try:
        status, _ = await request.do_request(f"{base}/plain", "POST")
    finally:
        await request.shutdown()
    assert status == 200
    assert request.read_timeout == 5.0
