"""The Zalo OAs' accounts: encrypted tokens, single-flight refresh across processes, teams,
OAuth states and uploads (issue 14). The OA channel reaches the database only through this.

Tokens are encrypted with Fernet (``cryptography``: AES-128-CBC + HMAC-SHA256, authenticated,
with a timestamp) under ``ZALO_OA_TOKEN_KEY``; several comma-separated keys rotate
(``MultiFernet``: the first encrypts, every one decrypts).

A refresh token is single-use and rotates, and the old access token dies with it. So the
refresh is **single flight across processes**: the OA's row is locked (``SELECT ... FOR
UPDATE`` on PostgreSQL; a first write that takes SQLite's write lock), and a process that had
to wait sees ``token_version`` moved and uses the new pair instead of refreshing again. The new
pair is committed before anyone uses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.exc import OperationalError

from bot.channels.zalo_oa.api import (
    Access,
    OAAccountError,
    OAClient,
    OAError,
    OAuthError,
    TokenPair,
    pkce_pair,
)
from bot.core.locks import KeyedLocks
from bot.redaction import protect_secret
from storage.db import Database
from storage.models import Team, utcnow
from storage.models.zalo_oa import ZaloOA
from storage.repos.teams import TeamRepo
from storage.repos.zalo_oa import ZaloOARepo

if TYPE_CHECKING:
    from bot.config import Config

log = logging.getLogger(__name__)

REFRESH_BEFORE = timedelta(hours=5)  # access tokens live 25 h: refreshed after about 20 h
STATE_TTL = timedelta(minutes=10)  # the permission code is valid ten minutes
IMAGE_TTL = timedelta(days=6)  # uploads reportedly expire after 7 days
EVENT_STEP = timedelta(minutes=10)  # how precisely an OA's last event is kept
LOCK_ATTEMPTS = 8  # SQLite: waits of busy_timeout (5 s) for another process's refresh
KEY_HINT = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class TokenKeyError(OAAccountError):
    """``ZALO_OA_TOKEN_KEY`` is missing or not a valid key (the message says what to do)."""


class TokenRefused(OAAccountError):
    """The OA's refresh token was refused: the OA must be connected again."""


class TokenCipher:
    """Encrypts and decrypts stored tokens (Fernet; comma-separated keys rotate)."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise TokenKeyError(
                "ZALO_OA_TOKEN_KEY is not set: it encrypts the OAs' tokens in the database. "
                f"Make one with: {KEY_HINT}"
            )
        try:
            fernets = [Fernet(k.encode("ascii")) for k in parts]
        except (ValueError, UnicodeEncodeError):
            raise TokenKeyError(
                "ZALO_OA_TOKEN_KEY is not a valid key (32 bytes, url-safe base64). "
                f"Make one with: {KEY_HINT}"
            ) from None
        for key in parts:
            protect_secret(key)
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plain: str) -> str:
        """Ciphertext of ``plain``."""
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, cipher: str) -> str:
        """The plain text; TokenKeyError when no key opens it."""
        try:
            return self._fernet.decrypt(cipher.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            raise TokenKeyError(
                "ZALO_OA_TOKEN_KEY does not open the stored tokens (was the key changed? put "
                "the old key after the new one, comma-separated)"
            ) from None


@dataclass(frozen=True)
class Connected:
    """An OA just stored: its id (the one its token belongs to), name and the teams linked."""

    oa_id: str
    name: str
    teams: list[Team]


class Accounts:
    """The OAs of this deployment, as the OA channel and the CLI use them."""

    def __init__(
        self,
        db: Database,
        client: OAClient,
        token_key: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        refresh_before: timedelta = REFRESH_BEFORE,
    ) -> None:
        self.db = db
        self.client = client
        self._token_key = token_key
        self._cipher: TokenCipher | None = None
        self.clock = clock
        self.refresh_before = refresh_before
        self.refreshes = 0  # refresh calls this process made (tests, logs)
        self._cache: dict[str, Access] = {}
        self._local = KeyedLocks()  # one refresh per OA in this process

    @property
    def cipher(self) -> TokenCipher:
        """The token cipher (TokenKeyError when ``ZALO_OA_TOKEN_KEY`` is missing or bad)."""
        if self._cipher is None:
            self._cipher = TokenCipher(self._token_key)
        return self._cipher

    async def check(self) -> int:
        """The start-up check: how many OAs are stored; TokenKeyError when some are and the
        key is missing or does not open their tokens."""
        async with self.db.transaction() as session:
            rows = await ZaloOARepo(session).all()
        if rows and not self._token_key.strip():
            raise TokenKeyError(
                f"{len(rows)} Zalo OA(s) are stored but ZALO_OA_TOKEN_KEY is not set; set it "
                "to the key their tokens were encrypted with"
            )
        for row in rows:
            self.cipher.decrypt(row.refresh_token)
        return len(rows)

    # --- tokens -------------------------------------------------------------------------

    def _access(self, row: ZaloOA) -> Access:
        token = self.cipher.decrypt(row.access_token)
        protect_secret(token)
        return Access(row.oa_id, token, row.token_version, row.expires_at)

    def _fresh(self, access: Access | None) -> bool:
        return access is not None and access.expires_at - self.refresh_before > self.clock()

    async def access(self, oa_id: str) -> Access:
        """A valid access token of the OA, refreshed first when it is about to expire.

        Raises LookupError (OA not stored), TokenRefused, OAError (network), TokenKeyError.
        """
        cached = self._cache.get(oa_id)
        if cached is not None and self._fresh(cached):
            return cached
        async with self.db.transaction() as session:
            row = await ZaloOARepo(session).get(oa_id)
        if row is None:
            self._cache.pop(oa_id, None)
            raise LookupError(f"OA {oa_id} is not stored")
        current = self._access(row)
        if self._fresh(current):
            self._cache[oa_id] = current
            return current
        return await self.refresh(oa_id, current.version)

    async def refresh(self, oa_id: str, seen_version: int | None) -> Access:
        """Refresh the OA's tokens unless someone did since ``seen_version`` (any process).

        ``seen_version`` None refreshes unconditionally (``trolyso zalo-oa add``).
        """
        async with self._local(oa_id):
            cached = self._cache.get(oa_id)
            if cached is not None and seen_version is not None and cached.version > seen_version:
                return cached
            for attempt in range(1, LOCK_ATTEMPTS + 1):
                try:
                    access = await self._refresh_locked(oa_id, seen_version)
                    break
                except OperationalError:  # SQLite: still locked after busy_timeout
                    if attempt == LOCK_ATTEMPTS:
                        raise
                    log.info("zalo_oa: OA %s is being refreshed elsewhere; waiting", oa_id)
                    await asyncio.sleep(0.2 * attempt)
            self._cache[oa_id] = access
            return access

    async def _refresh_locked(self, oa_id: str, seen_version: int | None) -> Access:
        refused: str | None = None
        async with self.db.transaction() as session:
            repo = ZaloOARepo(session)
            row = await repo.locked(oa_id, self.clock(), for_update=not self.db.is_sqlite)
            if row is None:
                raise LookupError(f"OA {oa_id} is not stored")
            if seen_version is not None and row.token_version != seen_version:
                log.info("zalo_oa: OA %s was refreshed by another process; using it", oa_id)
                return self._access(row)
            refresh_token = self.cipher.decrypt(row.refresh_token)
            protect_secret(refresh_token)
            try:
                pair = await self.client.refresh(refresh_token)
            except OAuthError as exc:
                refused = str(exc)
            else:
                self.refreshes += 1
                self._store(row, pair)
                log.info(
                    "zalo_oa: OA %s token refreshed (version %d, valid until %s)",
                    oa_id,
                    row.token_version,
                    row.expires_at.isoformat(timespec="minutes"),
                )
                return self._access(row)
        async with self.db.transaction() as session:
            await ZaloOARepo(session).set_problem(oa_id, "refresh token refused")
        log.error(
            "zalo_oa: OA %s: the refresh token was refused (%s); the OA must be connected "
            "again (trolyso zalo-oa connect)",
            oa_id,
            refused,
        )
        raise TokenRefused(f"OA {oa_id}: the refresh token was refused")

    def _store(self, row: ZaloOA, pair: TokenPair) -> None:
        protect_secret(pair.access_token)
        protect_secret(pair.refresh_token)
        now = self.clock()
        row.access_token = self.cipher.encrypt(pair.access_token)
        row.refresh_token = self.cipher.encrypt(pair.refresh_token)
        row.expires_at = now + timedelta(seconds=pair.expires_in)
        row.refreshed_at = now
        row.token_version += 1
        row.problem = None

    # --- adding OAs ---------------------------------------------------------------------

    async def _teams(self, codes: Sequence[str]) -> list[Team]:
        teams = []
        async with self.db.transaction() as session:
            repo = TeamRepo(session)
            for code in codes:
                team = await repo.by_code(code)
                if team is None:
                    raise LookupError(code)
                teams.append(team)
        return teams

    async def _keep(self, oa_id: str, pair: TokenPair, teams: Sequence[Team]) -> Connected:
        protect_secret(pair.access_token)
        protect_secret(pair.refresh_token)
        try:
            actual, name = await self.client.oa_info(pair.access_token)
        except OAError as exc:
            log.info("zalo_oa: the OA's name could not be read (%s)", exc)
            actual, name = "", ""
        if actual.isdigit() and actual != oa_id:
            # The token is the other OA's (and the refresh token given is used up by now):
            # keep it under the OA it really belongs to.
            log.warning("zalo_oa: the token given for OA %s belongs to OA %s", oa_id, actual)
            oa_id = actual
        now = self.clock()
        async with self.db.transaction() as session:
            repo = ZaloOARepo(session)
            row = await repo.save(
                oa_id,
                name=name,
                access_token=self.cipher.encrypt(pair.access_token),
                refresh_token=self.cipher.encrypt(pair.refresh_token),
                expires_at=now + timedelta(seconds=pair.expires_in),
                now=now,
            )
            await repo.link(row, teams)
            linked = await repo.teams(oa_id)
        self._cache.pop(oa_id, None)
        return Connected(oa_id, name, linked)

    async def add(self, oa_id: str, refresh_token: str, team_codes: Sequence[str]) -> Connected:
        """Store an OA from a refresh token, refreshed at once (a bad token fails here).

        Raises LookupError (a team code), OAuthError (token refused), OAError (network).
        """
        protect_secret(refresh_token)
        teams = await self._teams(team_codes)
        pair = await self.client.refresh(refresh_token)
        self.refreshes += 1
        return await self._keep(oa_id, pair, teams)

    async def start_connect(self, redirect_uri: str, team_codes: Sequence[str]) -> str:
        """A permission link (OAuth v4 with PKCE) whose single-use state lasts ten minutes."""
        await self._teams(team_codes)
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(24)
        async with self.db.transaction() as session:
            await ZaloOARepo(session).add_state(
                state, self.cipher.encrypt(verifier), list(team_codes), self.clock(), STATE_TTL
            )
        return self.client.permission_url(redirect_uri, challenge, state)

    async def finish_connect(self, state: str, code: str, oa_id: str) -> Connected | None:
        """The OAuth callback: use the state once, exchange the code, store the OA.

        None when the state is unknown, used or older than ten minutes.
        """
        async with self.db.transaction() as session:
            pending = await ZaloOARepo(session).take_state(state, self.clock())
        if pending is None:
            return None
        verifier = self.cipher.decrypt(pending.verifier)
        pair = await self.client.exchange_code(code, verifier)
        codes = [str(c) for c in pending.teams]
        try:
            teams = await self._teams(codes)
        except LookupError:
            teams = []
        return await self._keep(oa_id, pair, teams)

    async def remove(self, oa_id: str) -> bool:
        """Forget an OA and its tokens."""
        async with self.db.transaction() as session:
            gone = await ZaloOARepo(session).remove(oa_id)
        self._cache.pop(oa_id, None)
        return gone

    # --- what the channel asks ----------------------------------------------------------

    async def known(self, oa_id: str) -> bool:
        """Whether the OA is stored; records (to the ten minutes) that an event arrived."""
        now = self.clock()
        async with self.db.transaction() as session:
            repo = ZaloOARepo(session)
            row = await repo.get(oa_id)
            if row is None:
                return False
            if row.last_event_at is None or now - row.last_event_at >= EVENT_STEP:
                await repo.touch(oa_id, now)
        return True

    async def last_interaction(self, external_id: str) -> datetime | None:
        """When the citizen last wrote to (or followed) the OA, as far as the bot saw."""
        async with self.db.transaction() as session:
            return await ZaloOARepo(session).last_interaction(external_id)

    async def image(self, oa_id: str, data: bytes) -> str | None:
        """The attachment id of these image bytes on this OA, if uploaded recently."""
        digest = hashlib.sha256(data).hexdigest()
        async with self.db.transaction() as session:
            return await ZaloOARepo(session).image(oa_id, digest, self.clock() - IMAGE_TTL)

    async def keep_image(self, oa_id: str, data: bytes, attachment_id: str) -> None:
        """Remember an upload for re-use."""
        digest = hashlib.sha256(data).hexdigest()
        async with self.db.transaction() as session:
            await ZaloOARepo(session).save_image(oa_id, digest, attachment_id, self.clock())


def accounts_from_config(config: Config, db: Database) -> Accounts:
    """The accounts of the app configured by ``ZALO_OA_APP_ID`` and ``zalo_oa``."""
    secrets_ = config.secrets
    protect_secret(secrets_.zalo_oa_app_secret)
    client = OAClient(
        config.zalo_oa.openapi_url,
        config.zalo_oa.oauth_url,
        secrets_.zalo_oa_app_id,
        secrets_.zalo_oa_app_secret,
    )
    return Accounts(db, client, secrets_.zalo_oa_token_key)


def redirect_url(config: Config) -> str:
    """Where Zalo sends the OA admin back after the permission page (``GET /zalo-oa/oauth``)."""
    if config.zalo_oa.redirect_url:
        return config.zalo_oa.redirect_url
    base = config.web.public_url.rstrip("/") or f"http://{config.web.host}:{config.web.port}"
    return f"{base}/zalo-oa/oauth"
