"""A fake Zalo OA Open API + OAuth v4 server on 127.0.0.1 (aiohttp), and helpers to drive the
bot's OA channel through it.

- ``POST /v4/oa/access_token`` (form body, ``secret_key`` header): refresh tokens are single
  use and rotate; a used one is refused like the real platform ("invalid refresh token"), and
  issuing a new pair kills the OA's previous access token (-216 afterwards). Permission codes
  are single use too and need the right PKCE verifier.
- ``POST /v3.0/oa/message/cs`` (``access_token`` header): records each message; failures
  (-32, -211, -213, -216...) can be queued, and the button template can be refused (-201).
- ``POST /v2.0/oa/upload/image`` and ``GET /v2.0/oa/getoa``.

``OACitizen`` is a person writing to an OA: it signs each webhook body the way Zalo does
(``mac=`` + SHA-256 of app id + body + timestamp + OA secret key) and reads back what the bot
sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.web_request import FileField

from bot.app import App, build_app
from bot.channels.zalo_oa.api import challenge_of, signature_of
from bot.channels.zalo_oa.channel import ZaloOAChannel
from bot.config import Config, Secrets, WebConfig, ZaloOAConfig
from storage.db import Database

APP_ID = "3608465249409039670"
APP_SECRET = "app-secret-SECRET-abcdef"
SECRET_KEY = "oa-secret-key-SECRET-123456"
TOKEN_KEY = "Zb0dbR9xQnN3wBzK2o3mBv0Y8wcyb1QoX6W2m1aXh0s="
OA_ID = "388613280878808645"


@dataclass
class Sent:
    """One message/cs call the fake accepted."""

    oa_id: str
    user_id: str
    message: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        """The message's text."""
        return str(self.message.get("text") or "")

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The button template's buttons, if any."""
        attachment = self.message.get("attachment") or {}
        payload = attachment.get("payload") or {}
        return list(payload.get("buttons") or [])


class FakeOA:
    """The fake platform for one app and any number of OAs."""

    def __init__(self, app_id: str = APP_ID, app_secret: str = APP_SECRET) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.refresh_tokens: dict[str, str] = {}  # valid refresh token -> OA id
        self.access: dict[str, str] = {}  # the OA's one valid access token
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (OA id, PKCE challenge)
        self.names: dict[str, str] = {}
        self.refresh_calls: list[str] = []  # refresh tokens presented, in order
        self.refused_refreshes = 0
        self.refresh_delay = 0.0
        self.sent: list[Sent] = []
        self.attempts: list[tuple[str, dict[str, Any]]] = []  # every message/cs call
        self.failures: list[int] = []  # next message/cs answers
        self.refuse_templates = False
        self.refuse_images = False  # upload/image answers -201, as for a file it cannot take
        self.uploaded: list[bytes] = []
        self.uploads = 0
        self.port = 0
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        """The server's address (both ``zalo_oa.openapi_url`` and ``zalo_oa.oauth_url``)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeOA:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/v4/oa/access_token", self._token)
        app.router.add_post("/v3.0/oa/message/cs", self._cs)
        app.router.add_post("/v2.0/oa/upload/image", self._upload)
        app.router.add_get("/v2.0/oa/getoa", self._getoa)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- scripting ----------------------------------------------------------------------

    def new_oa(self, oa_id: str = OA_ID, name: str = "UBND xã Đông Hòa") -> str:
        """An OA that authorised the app; returns a valid refresh token for it."""
        self.names[oa_id] = name
        token = f"refresh-{oa_id}-{next(self._ids)}-SECRET"
        self.refresh_tokens[token] = oa_id
        return token

    def grant(self, oa_id: str, code: str, challenge: str, name: str = "UBND xã Đông Hòa") -> None:
        """The OA admin pressed "allow": ``code`` is valid for this PKCE challenge."""
        self.names[oa_id] = name
        self.codes[code] = (oa_id, challenge)

    def expire_access(self, oa_id: str) -> None:
        """The OA's access token dies (the platform answers -216 to it from now on)."""
        self.access.pop(oa_id, None)

    def to(self, user_id: str) -> list[Sent]:
        """Messages sent to a user."""
        return [s for s in self.sent if s.user_id == user_id]

    def texts(self, user_id: str, since: int = 0) -> list[str]:
        """Texts sent to a user, from the ``since``-th on."""
        return [s.text for s in self.to(user_id)[since:]]

    # --- the API ------------------------------------------------------------------------

    def _issue(self, oa_id: str) -> dict[str, Any]:
        n = next(self._ids)
        access = f"access-{oa_id}-{n}-SECRET"
        refresh = f"refresh-{oa_id}-{n}-SECRET"
        self.access[oa_id] = access  # the previous access token dies
        self.refresh_tokens[refresh] = oa_id
        return {"access_token": access, "refresh_token": refresh, "expires_in": "90000"}

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (
            request.headers.get("secret_key") != self.app_secret
            or form.get("app_id") != self.app_id
        ):
            return web.json_response({"error": -14002, "error_name": "Invalid app"})
        grant = form.get("grant_type")
        if grant == "refresh_token":
            token = str(form.get("refresh_token", ""))
            self.refresh_calls.append(token)
            if self.refresh_delay:
                await asyncio.sleep(self.refresh_delay)
            oa_id = self.refresh_tokens.pop(token, None)
            if oa_id is None:
                self.refused_refreshes += 1
                return web.json_response(
                    {
                        "error": -14014,
                        "error_name": "Invalid refresh token",
                        "error_description": "refresh token is invalid",
                    }
                )
            return web.json_response(self._issue(oa_id))
        if grant == "authorization_code":
            code = str(form.get("code", ""))
            found = self.codes.pop(code, None)
            verifier = str(form.get("code_verifier", ""))
            if found is None or challenge_of(verifier) != found[1]:
                return web.json_response({"error": -14019, "error_name": "Invalid code"})
            return web.json_response(self._issue(found[0]))
        return web.json_response({"error": -14003, "error_name": "Invalid grant"})

    def _oa_of(self, request: web.Request) -> str | None:
        token = request.headers.get("access_token", "")
        return next((oa for oa, valid in self.access.items() if valid == token), None)

    async def _cs(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.attempts.append((request.headers.get("access_token", ""), body))
        oa_id = self._oa_of(request)
        if oa_id is None:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        if self.failures:
            code = self.failures.pop(0)
            return web.json_response({"error": code, "message": f"fake error {code}"})
        message = body.get("message") or {}
        user_id = str((body.get("recipient") or {}).get("user_id") or "")
        text = message.get("text")
        if text is not None and (not isinstance(text, str) or len(text) > 2000):
            return web.json_response({"error": -201, "message": "text too long"})
        attachment = message.get("attachment") or {}
        if (attachment.get("payload") or {}).get("buttons") and self.refuse_templates:
            return web.json_response({"error": -201, "message": "Parameters invalid"})
        self.sent.append(Sent(oa_id, user_id, message))
        return web.json_response(
            {
                "error": 0,
                "message": "Success",
                "data": {"message_id": f"{next(self._ids):020x}", "user_id": user_id},
            }
        )

    async def _upload(self, request: web.Request) -> web.Response:
        if self._oa_of(request) is None:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        data = await request.post()
        if "file" not in data or self.refuse_images:
            return web.json_response({"error": -201, "message": "no file"})
        upload = data["file"]
        assert isinstance(upload, FileField)
        self.uploaded.append(upload.file.read())
        self.uploads += 1
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"attachment_id": f"att{self.uploads}"}}
        )

    async def _getoa(self, request: web.Request) -> web.Response:
        oa_id = self._oa_of(request)
        if oa_id is None:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"oa_id": oa_id, "name": self.names[oa_id]}}
        )


# --- the bot side ----------------------------------------------------------------------


def oa_config(config: Config, fake: FakeOA, **secrets: str) -> Config:
    """The test config with the OA channel pointed at the fake server."""
    values = {
        "zalo_oa_app_id": APP_ID,
        "zalo_oa_app_secret": APP_SECRET,
        "zalo_oa_secret_key": SECRET_KEY,
        "zalo_oa_token_key": TOKEN_KEY,
        **secrets,
    }
    return replace(
        config,
        web=WebConfig(host="127.0.0.1", port=0, public_url="https://bot.example.vn"),
        zalo_oa=ZaloOAConfig(openapi_url=fake.base_url, oauth_url=fake.base_url, rate_per_second=0),
        secrets=Secrets(**values),
    )


def oa_channel(app: App) -> ZaloOAChannel:
    """The app's OA channel."""
    channel = app.channels["zalo_oa"]
    assert isinstance(channel, ZaloOAChannel)
    return channel


async def start_bot(config: Config, db: Database, fake: FakeOA, **secrets: str) -> App:
    """Build the app as production does and start it (HTTP server on a free port)."""
    app = build_app(oa_config(config, fake, **secrets), db=db)
    await app.start()
    return app


def port(app: App) -> int:
    """The port the app's HTTP server listens on."""
    assert app.runner is not None
    return int(app.runner.addresses[0][1])


def signed(body: bytes, timestamp: str, key: str = SECRET_KEY) -> dict[str, str]:
    """Headers of a webhook request as Zalo signs it."""
    return {
        "X-ZEvent-Signature": signature_of(APP_ID, body, timestamp, key),
        "Content-Type": "application/json",
    }


class OACitizen:
    """A person writing to an OA; every event goes through the bot's real webhook."""

    def __init__(
        self, app: App, fake: FakeOA, user_id: str = "2468458835291979220", oa_id: str = OA_ID
    ) -> None:
        self.app = app
        self.fake = fake
        self.user_id = user_id
        self.oa_id = oa_id
        self.channel = oa_channel(app)
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        """The bot's webhook URL."""
        return f"http://127.0.0.1:{port(self.app)}{self.channel.webhook_path}"

    def body(
        self, event: str, text: str | None = None, *, msg_id: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """A webhook body as Zalo sends it."""
        stamp = str(int(time.time() * 1000))
        if event in ("follow", "unfollow"):
            return {
                "oa_id": self.oa_id,
                "follower": {"id": self.user_id},
                "user_id_by_app": "5521772797175877",
                "event_name": event,
                "source": "oa_profile",
                "app_id": APP_ID,
                "timestamp": stamp,
            }
        message: dict[str, Any] = {"msg_id": msg_id or f"m{self.user_id[-4:]}{next(self._ids)}"}
        if text is not None:
            message["text"] = text
        message.update(extra)
        return {
            "app_id": APP_ID,
            "user_id_by_app": "5521772797175877",
            "event_name": event,
            "timestamp": stamp,
            "sender": {"id": self.user_id},
            "recipient": {"id": self.oa_id},
            "message": message,
        }

    async def post(self, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> int:
        """POST a body to the webhook (signed unless ``headers`` are given); the status."""
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if headers is None:
            headers = signed(raw, str(body.get("timestamp", "")))
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.url, data=raw, headers=headers) as response,
        ):
            return response.status

    async def event(self, body: dict[str, Any]) -> list[Sent]:
        """Send an event and wait until the bot has handled it; what the bot sent back."""
        before = len(self.fake.to(self.user_id))
        status = await self.post(body)
        assert status == 200, status
        await self.channel.idle()
        return self.fake.to(self.user_id)[before:]

    async def say(self, text: str) -> list[Sent]:
        """Type a message."""
        return await self.event(self.body("user_send_text", text))

    async def follow(self) -> list[Sent]:
        """Follow the OA."""
        return await self.event(self.body("follow"))

    async def tap(self, sent: list[Sent], label_part: str) -> list[Sent]:
        """Tap a button of the template (Zalo sends its payload back as the citizen's text)."""
        for message in reversed(sent):
            for button in message.buttons:
                if label_part.lower() in str(button["title"]).lower():
                    assert button["type"] == "oa.query.show"
                    return await self.say(str(button["payload"]))
        raise AssertionError(f"no button with {label_part!r} in {[m.buttons for m in sent]}")


__all__ = ["FakeOA", "OACitizen", "oa_channel", "oa_config", "start_bot"]
