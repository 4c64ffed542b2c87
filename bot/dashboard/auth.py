"""Sessions, scope and request checks of the dashboard.

- A one-time link (``/quan-ly/vao?t=...``) opens a confirmation page; its form POSTs the token
  (a link previewer that fetches the GET does not use it up). The POST is rate-limited per
  client, redeems the link once and sets the session cookie (HttpOnly, SameSite=Lax, Secure
  when the public URL is https).
- Every other page needs a live session of a staff user; the teams a user may see come from
  their role and their own team in the database (``Viewer.teams``), never from the page.
- Every POST carries the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.services import Services
from storage.models import STAFF, Role, Team, User
from storage.repos.dashboard import DashboardRepo
from storage.repos.teams import TeamRepo
from storage.repos.users import UserRepo

log = logging.getLogger(__name__)

COOKIE = "quanly"
SESSION_HOURS = 12
ATTEMPTS_PER_WINDOW = 10
ATTEMPT_WINDOW = timedelta(minutes=10)

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Viewer:
    """Who is signed in, and the teams they may see (admins: every team)."""

    user: User
    token: str
    csrf: str
    teams: tuple[Team, ...]
    own_team: Team | None

    @property
    def role(self) -> str:
        """The user's role."""
        return self.user.role

    @property
    def is_admin(self) -> bool:
        """Whether the user is an admin."""
        return self.user.role == Role.ADMIN

    def team(self, wanted: str | None) -> Team | None:
        """The team ``wanted`` (an id from the page) if this viewer may see it; else None.

        No ``wanted``: the viewer's own team, or for admins and commune officials None
        (meaning all of their teams).
        """
        if wanted is None or wanted == "":
            if self.role in (Role.ADMIN, Role.COMMUNE):
                return None
            return self.own_team
        if not wanted.isdigit():
            raise web.HTTPNotFound
        for team in self.teams:
            if team.id == int(wanted):
                return team
        raise web.HTTPNotFound


VIEWER: web.RequestKey[Viewer] = web.RequestKey("viewer", Viewer)


async def visible_teams(session: AsyncSession, user: User) -> tuple[tuple[Team, ...], Team | None]:
    """The teams ``user`` may see and their own team: one team for members and leads, their
    commune's teams for a commune official, every team for an admin."""
    repo = TeamRepo(session)
    own = await repo.team_of(user.id)
    if user.role == Role.ADMIN:
        return tuple(await repo.all()), own
    if own is None or user.role not in STAFF:
        return (), own
    if user.role == Role.COMMUNE:
        return tuple(await repo.in_commune(own.commune)), own
    return (own,), own


def client_address(request: web.Request, proxies: Sequence[str]) -> str:
    """The client's IP address: the connection's, unless that is a trusted proxy; then the
    nearest address of ``X-Forwarded-For`` (read from the right) that is not a trusted proxy.

    Without trusted proxies the header is never read (anyone can write it). An IPv6 client is
    its /64 network (one household's router hands out many addresses of it).
    """
    remote = request.remote or "?"
    networks = [ipaddress.ip_network(p.strip(), strict=False) for p in proxies]
    if not networks or not _among(remote, networks):
        return _client(remote)
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _among(hop, networks):
            return _client(hop)
    return _client(remote)


def _among(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


def _client(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_key(request: web.Request, proxies: Sequence[str] = ()) -> str:
    """A hash of the client's address (rate limiting without keeping the address)."""
    return hashlib.sha256(client_address(request, proxies).encode()).hexdigest()


def secure_cookie(services: Services) -> bool:
    """Whether the dashboard is reached over https (then the cookie is Secure)."""
    return services.config.web.public_url.startswith("https://")


async def load_viewer(services: Services, token: str) -> Viewer | None:
    """The signed-in staff user of a session cookie, or None."""
    async with services.db.transaction() as session:
        found = await DashboardRepo(session).find_session(token, services.clock())
        if found is None:
            return None
        user = await UserRepo(session).get(found.user_id)
        if user is None or user.role not in STAFF:
            return None
        teams, own = await visible_teams(session, user)
        if user.role != Role.ADMIN and own is None:
            return None
        return Viewer(user=user, token=token, csrf=found.csrf, teams=teams, own_team=own)


PUBLIC = frozenset({"/quan-ly/vao", "/quan-ly/static/dash.css"})


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; a session (and a CSRF token on POST) for every page
    but the sign-in."""
    try:
        response = await _checked(request, handler)
    except web.HTTPException as exc:
        response = exc
    _headers(response)
    return response


async def _checked(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC:
        return await handler(request)
    services = request.app[SERVICES]
    token = request.cookies.get(COOKIE, "")
    viewer = await load_viewer(services, token) if token else None
    if viewer is None:
        raise web.HTTPSeeOther("/quan-ly/vao")
    if request.method == "POST":
        form = await request.post()
        sent = str(form.get("csrf", ""))
        if not hmac.compare_digest(sent.encode(), viewer.csrf.encode()):
            log.info("dashboard: POST %s refused (CSRF token missing or wrong)", request.path)
            raise web.HTTPForbidden(text="CSRF")
    request[VIEWER] = viewer
    return await handler(request)


def _headers(response: web.StreamResponse) -> None:
    headers = response.headers
    headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cache-Control"] = "no-store"


def viewer_of(request: web.Request) -> Viewer:
    """The signed-in viewer of a checked request."""
    return request[VIEWER]
