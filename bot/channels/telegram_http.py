"""PTB's HTTP transport on aiohttp (``telegram.request.BaseRequest``), instead of httpx.

PTB lets the application choose how Bot API calls travel (``ApplicationBuilder.request``); it
ships an httpx implementation. We serve the web chat and Zalo with aiohttp already, and
aiohttp's client costs far less CPU per call than httpx's, more so with many calls in flight
(httpx's connection pool serialises them): on the Telegram bench the same echo bot handles
about twice the updates per second at concurrency 1 and five times at concurrency 16. The
PTB maintainers' ``ptbcontrib`` collection carries a similar class; it is not on PyPI.

Parameters travel as a JSON body, one of the Bot API's documented encodings (PTB's
``RequestData.parameters`` are JSON-ready; keyboards go as objects): it costs a fraction of
form-encoding Vietnamese text. Calls that upload files are multipart, as in PTB's own transport.

Timeouts map onto aiohttp's: ``connect_timeout`` to ``sock_connect``, ``read_timeout`` to
``sock_read``, ``pool_timeout`` to ``connect`` (waiting for a free connection included);
``write_timeout`` bounds a whole upload. Failures become PTB's ``TimedOut`` and
``NetworkError``, so PTB's own retries work unchanged, as subclasses that say whether the
request may have reached Telegram: ``NotSent`` (refused connection, no connection in time,
or a 502/503 answer: the API never took it) or not (a timeout waiting for the answer, a
connection lost after sending: a message may have been delivered). The URL (which holds the
token) is never put into an exception message or a log line.

For getUpdates (``updates=True``) two more things: an update PTB cannot read (``date:
"yesterday"``, a list as ``message``) is replaced by an empty one with its id, so polling
skips it with one warning and goes on instead of stopping; and once the token has worked
(``token_worked``), a 401 is a ``NetworkError`` (PTB retries with back-off) rather than
``InvalidToken`` (PTB stops polling for good).
"""

from __future__ import annotations

import json
import logging

import aiohttp
from telegram import Update
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0  # seconds, as PTB's httpx transport
MEDIA_WRITE_TIMEOUT = 20.0  # uploads get longer, as in PTB


def _seconds(value: object, default: float | None) -> float | None:
    """A timeout argument: PTB's "use the default" marker, None (no limit) or seconds."""
    if value is BaseRequest.DEFAULT_NONE:
        return default
    return None if value is None else float(value)  # type: ignore[arg-type]


class NotSent(NetworkError):
    """The request never reached the Bot API: nothing was delivered."""


class ConnectTimedOut(TimedOut):
    """No connection in time: nothing was sent."""


class TokenRefusedNow(NetworkError):
    """A 401 on getUpdates after the token had worked: maybe transient, retried."""


NOT_TAKEN = frozenset({502, 503})  # the gateway could not reach the API, or it is unavailable


def is_not_sent(exc: BaseException) -> bool:
    """Whether a PTB error from our transport proves the request was not delivered."""
    return isinstance(exc, (NotSent, ConnectTimedOut))


def _description(status: int, payload: bytes) -> str:
    try:
        data = json.loads(payload.decode("utf-8", "replace"))
    except ValueError:
        data = None
    text = data.get("description") if isinstance(data, dict) else None
    return str(text)[:200] if text else f"HTTP {status}"


def readable_updates(payload: bytes) -> bytes:
    """A getUpdates answer with each update PTB cannot read replaced by ``{"update_id": n}``."""
    try:
        data = json.loads(payload)
    except ValueError:
        return payload
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, list):
        return payload
    changed = False
    for index, item in enumerate(result):
        try:
            if not isinstance(item, dict) or Update.de_json(item, None) is None:
                raise ValueError("not an update")
        except Exception:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                continue  # without an id PTB cannot even skip it; leave it for PTB
            log.warning("telegram: update %s could not be read; skipped", update_id)
            result[index] = {"update_id": update_id}
            changed = True
    return json.dumps(data).encode() if changed else payload


class AiohttpRequest(BaseRequest):
    """Bot API calls over one aiohttp session with at most ``connection_pool_size`` connections."""

    __slots__ = ("_pool_size", "_session", "_timeout", "token_worked", "updates")

    def __init__(
        self,
        connection_pool_size: int = 256,
        *,
        read_timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float | None = DEFAULT_TIMEOUT,
        pool_timeout: float | None = 1.0,
        updates: bool = False,
    ) -> None:
        self._pool_size = connection_pool_size
        self._timeout = (read_timeout, connect_timeout, pool_timeout)
        self._session: aiohttp.ClientSession | None = None
        self.updates = updates
        self.token_worked = False

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout; PTB adds the long-polling time to it for getUpdates."""
        return self._timeout[0]

    async def initialize(self) -> None:
        """Open the session (inside the running event loop); again after a shutdown."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        """Close the session and its connections; closing twice is harmless."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP call; returns the status code and the body."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        default_read, default_connect, default_pool = self._timeout
        read = _seconds(read_timeout, default_read)
        files = request_data is not None and request_data.contains_files
        total = None
        if files:
            write = _seconds(write_timeout, MEDIA_WRITE_TIMEOUT)
            total = None if write is None or read is None else write + read
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=_seconds(pool_timeout, default_pool),
            sock_connect=_seconds(connect_timeout, default_connect),
            sock_read=read,
        )
        try:
            data, headers = _body(request_data)
            async with session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as response:
                status, payload = response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise ConnectTimedOut(f"aiohttp: {type(exc).__name__}") from None
        except TimeoutError as exc:
            raise TimedOut(f"aiohttp: {type(exc).__name__}") from None
        except aiohttp.ClientConnectorError as exc:
            raise NotSent(f"aiohttp.{type(exc).__name__}") from None
        except aiohttp.ClientError as exc:
            # The exception's text may hold the URL, and the URL holds the token: name the
            # kind of failure only.
            raise NetworkError(f"aiohttp.{type(exc).__name__}") from None
        if status in NOT_TAKEN:
            raise NotSent(_description(status, payload))
        if self.updates:
            if status == 401 and self.token_worked:
                raise TokenRefusedNow("TELEGRAM_BOT_TOKEN was refused (401) after it had worked")
            if status == 200:
                payload = readable_updates(payload)
        return status, payload


JSON = {"Content-Type": "application/json"}


def _body(
    request_data: RequestData | None,
) -> tuple[bytes | aiohttp.FormData | None, dict[str, str] | None]:
    """The body and its headers: JSON, or multipart when the call uploads files."""
    if request_data is None:
        return None, None
    if not request_data.contains_files:
        body = json.dumps(request_data.parameters, ensure_ascii=False, separators=(",", ":"))
        return body.encode(), JSON
    form = aiohttp.FormData(request_data.json_parameters, default_to_multipart=True)
    for field, (filename, content, mimetype) in (request_data.multipart_data or {}).items():
        form.add_field(field, content, filename=filename, content_type=mimetype)
    return form, None
