"""The dashboard's sign-in limit counts tries per client address, kept in the database.

Without a trusted proxy the connection's address is the client and ``X-Forwarded-For`` is
ignored (anyone can write it); with ``web.trusted_proxies`` set, a request from the proxy is
counted for the address the proxy appended.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from sqlalchemy import func, select

from bot.app import App
from bot.channels.memory import MemoryChannel
from bot.config import ConfigError, load_config
from bot.dashboard.auth import ATTEMPTS_PER_WINDOW, client_address
from storage.models import DashboardAttempt
from tests.test_dashboard import MakeClient, chat_link, clients
from tests.test_teams import make_member, make_team

__all__ = ["clients"]  # the fixture, shared with test_dashboard

GUESSER = "203.0.113.5"
COLLEAGUE = "198.51.100.7"


async def _try(client_factory: MakeClient, forwarded: str, token: str) -> int:
    client = await client_factory()
    response = await client.post(
        "/quan-ly/vao",
        data={"t": token},
        headers={"X-Forwarded-For": forwarded},
        allow_redirects=False,
    )
    return response.status


async def _guess(client_factory: MakeClient, forwarded: str) -> None:
    for _ in range(ATTEMPTS_PER_WINDOW):
        assert await _try(client_factory, forwarded, "guess") == 403


def _trust(app: App, *proxies: str) -> None:
    config = app.services.config
    app.services.config = replace(config, web=replace(config.web, trusted_proxies=proxies))


async def test_without_a_trusted_proxy_the_header_is_ignored(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    await _guess(clients, GUESSER)
    # Every request comes from 127.0.0.1: a forged header does not buy a fresh allowance
    good = (await chat_link(chat, "mem")).split("t=", 1)[1]
    assert await _try(clients, COLLEAGUE, good) == 429
    async with app.db.transaction() as session:
        keys = await session.scalar(select(func.count(func.distinct(DashboardAttempt.client))))
        assert keys == 1


async def test_behind_a_trusted_proxy_each_client_has_its_own_allowance(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    _trust(app, "127.0.0.1")
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    await _guess(clients, GUESSER)
    # The guesser is slowed down, even when it writes another address in front of its own
    good = (await chat_link(chat, "mem")).split("t=", 1)[1]
    assert await _try(clients, f"{COLLEAGUE}, {GUESSER}", good) == 429
    # A colleague behind the same proxy signs in
    assert await _try(clients, COLLEAGUE, good) == 303
    async with app.db.transaction() as session:
        keys = await session.scalar(select(func.count(func.distinct(DashboardAttempt.client))))
        assert keys == 2
        stored = set((await session.execute(select(DashboardAttempt.client))).scalars())
        assert GUESSER not in stored and COLLEAGUE not in stored  # only hashes


def _request(remote: str, forwarded: str | None) -> web.Request:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    request = make_mocked_request("POST", "/quan-ly/vao", headers=headers)
    return request.clone(remote=remote)


def test_which_address_is_the_client() -> None:
    proxies = ("10.0.0.0/8", "127.0.0.1")
    assert client_address(_request("192.0.2.1", "198.51.100.7"), proxies) == "192.0.2.1"
    assert client_address(_request("10.1.2.3", "198.51.100.7"), proxies) == "198.51.100.7"
    chain = "198.51.100.7, 203.0.113.5, 10.9.9.9"  # two proxies of ours, the client, a forgery
    assert client_address(_request("127.0.0.1", chain), proxies) == "203.0.113.5"
    assert client_address(_request("127.0.0.1", None), proxies) == "127.0.0.1"
    assert client_address(_request("127.0.0.1", "198.51.100.7"), ()) == "127.0.0.1"
    v6 = client_address(_request("10.1.2.3", "2001:db8:1:2:aaaa::1"), proxies)
    assert v6 == client_address(_request("10.1.2.3", "2001:db8:1:2:bbbb::9"), proxies)
    assert v6 == "2001:db8:1:2::/64"


def test_trusted_proxies_are_addresses_or_networks(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("web:\n  trusted_proxies: [127.0.0.1, 10.0.0.0/8, '::1']\n", "utf-8")
    assert load_config(path, env={}).web.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    path.write_text("web:\n  trusted_proxies: [nginx]\n", "utf-8")
    with pytest.raises(ConfigError, match=r"web.trusted_proxies\[0\] must be an IP address"):
        load_config(path, env={})
