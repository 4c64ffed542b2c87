"""The Zalo Bot Platform HTTP client: POST JSON to ``{base}/bot{token}/{method}``, check ``ok``.

The token is part of every URL, so no URL is ever put into an exception or a log line: errors
name the method only. A failure says whether the request may have reached the platform
(``ZaloNetworkError.sent``): a refused connection or a connect timeout did not send anything;
a timeout waiting for the answer, or a connection lost after sending, may have.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import aiohttp

CALL_TIMEOUT = 20.0  # seconds for any call but getUpdates
CONNECT_TIMEOUT = 10.0  # seconds to get a connection; nothing is sent before that
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
# Answers that say the platform did not take the request: the request timed out on the way in
# (408), too early (425), rate limited (429), the gateway could not reach the API (502) or it is
# unavailable (503). A 500 or 504 comes after the platform took it: it may have been sent.
NOT_TAKEN = frozenset({408, 425, 429, 502, 503})


class ZaloError(Exception):
    """A call failed. The message names the method, never the URL (it holds the token)."""


class ZaloNetworkError(ZaloError):
    """The API could not be reached, or answered something that is not the API's JSON.

    ``sent`` is False only when the request surely never left (a refused connection, no
    connection in time).
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class ZaloApiError(ZaloError):
    """The API answered ``ok: false``."""

    def __init__(self, method: str, code: int, description: str) -> None:
        super().__init__(f"{method}: error {code} {description}".strip())
        self.method = method
        self.code = code
        self.description = description

    @property
    def retryable(self) -> bool:
        """Whether trying again later may work (rate limit, timeout, server trouble)."""
        return self.code in RETRYABLE

    @property
    def taken(self) -> bool:
        """Whether the platform may have acted on the request despite the error."""
        return self.code not in NOT_TAKEN


class ZaloUnauthorized(ZaloApiError):
    """401: the token is wrong or was reset. Fatal for the channel."""


class ZaloRateLimited(ZaloApiError):
    """429: quota exceeded or too many requests."""


class ZaloIdle(ZaloApiError):
    """408 from getUpdates: nothing arrived during the long poll. Not an error."""


@contextlib.contextmanager
def _no_url(method: str) -> Iterator[None]:
    """Turn aiohttp's errors (whose texts may hold the URL) into ones naming only the method."""
    try:
        yield
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
        raise ZaloNetworkError(f"{method}: {type(exc).__name__}", sent=False) from None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ZaloNetworkError(f"{method}: {type(exc).__name__}") from None


class ZaloClient:
    """The few Bot Platform methods we use: POST JSON, check ``ok``, return ``result``."""

    def __init__(self, base_url: str, token: str, *, timeout: float = CALL_TIMEOUT) -> None:
        self._prefix = f"{base_url.rstrip('/')}/bot{token}/"
        self._session: aiohttp.ClientSession | None = None
        self.timeout = timeout

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"Content-Type": "application/json"}, raise_for_status=False
            )
        return self._session

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self, method: str, payload: dict[str, Any] | None = None, *, wait: float | None = None
    ) -> Any:
        """Call ``method``; returns ``result``. Raises ZaloApiError subclasses or network errors.

        ``wait`` bounds the whole call (``timeout`` seconds unless given).
        """
        wait = self.timeout if wait is None else wait
        body = json.dumps(payload or {}, ensure_ascii=False).encode("utf-8")
        timeout = aiohttp.ClientTimeout(total=wait, connect=min(CONNECT_TIMEOUT, wait))
        with _no_url(method):
            async with self._http().post(
                self._prefix + method, data=body, timeout=timeout
            ) as response:
                status = response.status
                raw = await response.read()
        try:
            data = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict):
            if status >= 400:
                raise _api_error(method, status, f"HTTP {status}")
            raise ZaloNetworkError(f"{method}: the answer is not JSON (HTTP {status})")
        if data.get("ok") is True:
            return data.get("result")
        code = data.get("error_code")
        if not isinstance(code, int) or isinstance(code, bool):
            code = status if status >= 400 else 0
        description = data.get("description")
        raise _api_error(method, code, str(description)[:200] if description else "")


def _api_error(method: str, code: int, description: str) -> ZaloApiError:
    if code == 401:
        return ZaloUnauthorized(method, code, description)
    if code == 429:
        return ZaloRateLimited(method, code, description)
    if code == 408 and method == "getUpdates":
        return ZaloIdle(method, code, description)
    return ZaloApiError(method, code, description)
