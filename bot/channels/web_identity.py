"""Web chat identities: issued by the server and bound to a signature the client cannot forge.

A web user is a random id the server chose (24 URL-safe characters), and their credential is
``<id>.<HMAC-SHA256(key, id)>``. The page holds it in an HttpOnly cookie; other clients send it
as ``Authorization: Bearer <token>``. Ids a client makes up are never accepted: without the key
nobody can sign one. The key comes from the core (``Core.web_session_key``: the environment, or
one kept in the database), so every process signs and checks with the same key.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable

_DOMAIN = b"trolyso web user v1\x00"  # what the key signs, so it signs nothing else by accident
_ID = re.compile(r"^[A-Za-z0-9_-]{24}$")
MAX_TOKEN = 100


def _signature(key: bytes, external_id: str) -> str:
    digest = hmac.new(key, _DOMAIN + external_id.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class WebIdentities:
    """Issues and checks web chat credentials; ``load_key`` is asked once per process."""

    def __init__(self, load_key: Callable[[], Awaitable[bytes]]) -> None:
        self._load_key = load_key
        self._key: bytes | None = None
        self._loading = asyncio.Lock()

    async def key(self) -> bytes:
        """The signing key (loaded on first use; a failure is retried on the next request)."""
        if self._key is None:
            async with self._loading:
                if self._key is None:
                    self._key = await self._load_key()
        return self._key

    async def issue(self) -> tuple[str, str]:
        """A new identity: its external id and its token."""
        external_id = secrets.token_urlsafe(18)
        return external_id, f"{external_id}.{_signature(await self.key(), external_id)}"

    async def verify(self, token: str) -> str | None:
        """The external id a token was issued for, or None when it is not one of ours."""
        if len(token) > MAX_TOKEN:
            return None
        external_id, dot, signature = token.partition(".")
        if not dot or not _ID.match(external_id):
            return None
        expected = _signature(await self.key(), external_id)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")):
            return None
        return external_id
