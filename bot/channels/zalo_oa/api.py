"""The Zalo OA Open API v3 and OAuth v4, as a small aiohttp client.

Conventions (``/work/shared/research/zalo.md`` Part 2): the access token goes in the
``access_token`` header; answers are ``{"data": ..., "error": 0, "message": ...}`` and an error
arrives as a non-zero ``error`` with HTTP 200; the token endpoint takes a form body with the app
secret in the ``secret_key`` header and answers ``expires_in`` as a string. No token, secret or
URL with a secret is ever put in an exception or a log line.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

TIMEOUT = 15.0  # seconds for any call
MAX_TEXT = 2000  # message/cs text

# Error codes (research Part 2.7).
RATE_LIMITED = -32
QUOTA = -211
NOT_FOLLOWER = -213
BAD_TOKEN = -216
TOKEN_EXPIRED = -220
BANNED = -227
WINDOW = (-230, -232)
TOKEN_ERRORS = (BAD_TOKEN, TOKEN_EXPIRED)
UNREACHABLE = (NOT_FOLLOWER, BANNED)


class OAError(Exception):
    """A call failed. The text names the call and the code, never a token."""


class OANetworkError(OAError):
    """No answer. ``sent`` is False when the request surely never left (connection refused)."""

    def __init__(self, what: str, *, sent: bool) -> None:
        super().__init__(what)
        self.sent = sent


class OAApiError(OAError):
    """The API answered a non-zero ``error``."""

    def __init__(self, call: str, code: int, message: str = "") -> None:
        super().__init__(f"{call}: error {code} {message}".strip())
        self.call = call
        self.code = code
        self.message = message


class OAAccountError(OAError):
    """The OA cannot be used now: its refresh token was refused, or its tokens cannot be
    decrypted (``bot/zalo_oa.py``)."""


class OAuthError(OAError):
    """The token endpoint refused the code or the refresh token."""


@dataclass(frozen=True)
class TokenPair:
    """What the token endpoint gives: both tokens and the access token's lifetime."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int


@dataclass(frozen=True)
class Access:
    """An OA's current access token and which refresh made it (``token_version``)."""

    oa_id: str
    token: str = field(repr=False)
    version: int
    expires_at: datetime


@contextlib.contextmanager
def _quiet(call: str) -> Iterator[None]:
    """aiohttp errors (their texts hold URLs) as ``OANetworkError`` naming only the call."""
    try:
        yield
    except aiohttp.ClientConnectorError:
        raise OANetworkError(f"{call}: cannot connect", sent=False) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise OANetworkError(f"{call}: {type(exc).__name__}", sent=True) from None


def _code(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value.strip()):
        return int(value)
    return 0


class OAClient:
    """The calls the channel and the CLI make. One per app; the token is given per call."""

    def __init__(self, openapi_url: str, oauth_url: str, app_id: str, app_secret: str) -> None:
        self.openapi_url = openapi_url.rstrip("/")
        self.oauth_url = oauth_url.rstrip("/")
        self.app_id = app_id
        self._app_secret = app_secret
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT), raise_for_status=False
            )
        return self._session

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- Open API -----------------------------------------------------------------------

    async def _envelope(self, call: str, response: aiohttp.ClientResponse) -> Any:
        raw = await response.read()
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            raise OAApiError(call, response.status if response.status >= 400 else -1, "not JSON")
        code = _code(data.get("error"))
        if code != 0:
            message = data.get("message")
            raise OAApiError(call, code, str(message)[:160] if message else "")
        if response.status >= 400:
            raise OAApiError(call, response.status, f"HTTP {response.status}")
        return data.get("data")

    async def post(self, path: str, token: str, body: dict[str, Any]) -> Any:
        """POST JSON to ``path`` (e.g. ``/v3.0/oa/message/cs``); returns ``data``."""
        call = path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1]
        with _quiet(call):
            async with self._http().post(
                self.openapi_url + path,
                data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={"access_token": token, "Content-Type": "application/json"},
            ) as response:
                return await self._envelope(call, response)

    async def get(self, path: str, token: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` with its JSON ``data`` query parameter; returns ``data``."""
        call = path.rsplit("/", 1)[-1]
        query = {"data": json.dumps(params, ensure_ascii=False)} if params else None
        with _quiet(call):
            async with self._http().get(
                self.openapi_url + path, params=query, headers={"access_token": token}
            ) as response:
                return await self._envelope(call, response)

    async def send(self, token: str, message: dict[str, Any], user_id: str) -> Any:
        """A consultation message (tin Tư vấn) to one follower."""
        body = {"recipient": {"user_id": user_id}, "message": message}
        return await self.post("/v3.0/oa/message/cs", token, body)

    async def upload_image(self, token: str, data: bytes, filename: str, content_type: str) -> str:
        """Upload a jpg/png (at most 1 MB); returns its ``attachment_id``."""
        form = aiohttp.FormData()
        form.add_field("file", data, filename=filename, content_type=content_type)
        with _quiet("upload/image"):
            async with self._http().post(
                self.openapi_url + "/v2.0/oa/upload/image",
                data=form,
                headers={"access_token": token},
            ) as response:
                result = await self._envelope("upload/image", response)
        attachment = result.get("attachment_id") if isinstance(result, dict) else None
        if not isinstance(attachment, str) or not attachment:
            raise OAApiError("upload/image", -1, "no attachment_id")
        return attachment

    async def oa_info(self, token: str) -> tuple[str, str]:
        """The OA's id and display name (``getoa``): whose token this is; empty when not given."""
        result = await self.get("/v2.0/oa/getoa", token)
        info = result if isinstance(result, dict) else {}
        oa_id, name = info.get("oa_id"), info.get("name")
        return (
            str(oa_id).strip()[:32] if isinstance(oa_id, (str, int)) else "",
            name.strip()[:128] if isinstance(name, str) else "",
        )

    # --- OAuth v4 -----------------------------------------------------------------------

    def permission_url(self, redirect_uri: str, challenge: str, state: str) -> str:
        """The link an OA admin opens to grant the app access to their OA."""
        from urllib.parse import urlencode

        query = urlencode(
            {
                "app_id": self.app_id,
                "redirect_uri": redirect_uri,
                "code_challenge": challenge,
                "state": state,
            }
        )
        return f"{self.oauth_url}/v4/oa/permission?{query}"

    async def _token(self, grant: dict[str, str]) -> TokenPair:
        call = f"access_token ({grant['grant_type']})"
        form = {"app_id": self.app_id, **grant}
        with _quiet(call):
            async with self._http().post(
                self.oauth_url + "/v4/oa/access_token",
                data=form,
                headers={"secret_key": self._app_secret},
            ) as response:
                raw = await response.read()
                status = response.status
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            raise OAuthError(f"{call}: HTTP {status}, not JSON")
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
            code = _code(data.get("error"))
            reason = data.get("error_description") or data.get("error_name") or data.get("message")
            text = str(reason)[:160] if reason else ""
            raise OAuthError(f"{call}: error {code} {text}".strip())
        expires = _code(data.get("expires_in")) or 90000
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=expires)

    async def exchange_code(self, code: str, verifier: str) -> TokenPair:
        """The permission code (valid ten minutes) for the OA's first token pair."""
        return await self._token(
            {"code": code, "grant_type": "authorization_code", "code_verifier": verifier}
        )

    async def refresh(self, refresh_token: str) -> TokenPair:
        """A new pair; the refresh token given is used up (and the old access token dies)."""
        return await self._token({"refresh_token": refresh_token, "grant_type": "refresh_token"})


# --- PKCE and the webhook signature -------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    """(verifier, challenge): a 43-character verifier and base64url(SHA-256) without padding."""
    verifier = secrets.token_urlsafe(32)[:43]
    return verifier, challenge_of(verifier)


def challenge_of(verifier: str) -> str:
    """The PKCE code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"?(\d{1,20})"?')


def signature_of(app_id: str, body: bytes, timestamp: str, key: str) -> str:
    """``mac=`` + SHA-256 hex of app id + raw body + timestamp + key (plain SHA-256, not HMAC)."""
    material = app_id.encode("utf-8") + body + timestamp.encode("ascii") + key.encode("utf-8")
    return "mac=" + hashlib.sha256(material).hexdigest()


def signature_ok(
    header: str, app_id: str, body: bytes, keys: tuple[str, ...], timestamp_header: str = ""
) -> bool:
    """Whether ``X-ZEvent-Signature`` matches the raw body, compared in constant time.

    Read before the body is parsed. Where the research is unsure, every reading is accepted:
    the timestamp from the ``X-ZEvent-Timestamp`` header or from the body's ``timestamp``
    field (found in the raw bytes), the key being the OA Secret Key or the App Secret, and the
    ``mac=`` prefix present or not.
    """
    given = header.strip()
    if not given or not app_id or not any(keys):
        return False
    if not given.startswith("mac="):
        given = "mac=" + given
    stamps = [timestamp_header.strip()] if timestamp_header.strip().isdigit() else []
    match = _TIMESTAMP.search(body)
    if match is not None:
        stamps.append(match.group(1).decode("ascii"))
    good = False
    for stamp in stamps:
        for key in keys:
            if key:
                expected = signature_of(app_id, body, stamp, key)
                good |= hmac.compare_digest(given.lower().encode(), expected.encode())
    return good
