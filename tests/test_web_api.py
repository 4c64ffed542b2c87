"""The web chat's JSON API over real HTTP on 127.0.0.1: identity, turns, inbox, history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import CookieJar, DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bot.app import App
from bot.channels.web import COOKIE, json_depth
from storage.models import User
from storage.repos.users import UserRepo

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(app: App) -> AsyncIterator[Client]:
    """An API client: no cookie jar, so every request names its user by token (or nobody)."""
    jar = DummyCookieJar()
    async with TestClient(TestServer(app.web_app(), host="127.0.0.1"), cookie_jar=jar) as c:
        yield c


@pytest.fixture
async def browser_like(app: App) -> AsyncIterator[Client]:
    """A client that keeps cookies, as a browser does."""
    jar = CookieJar(unsafe=True)  # unsafe: accept cookies from an IP address (127.0.0.1)
    async with TestClient(TestServer(app.web_app(), host="127.0.0.1"), cookie_jar=jar) as c:
        yield c


class WebUser:
    """An API client holding the token the server issued (the page uses the cookie)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.token: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post("/api/chat", json=body, headers=self.headers())
        assert response.status == 200, await response.text()
        data: dict[str, Any] = await response.json()
        if self.token is None:
            self.token = data["token"]
        else:
            assert "token" not in data  # issued once
        return data

    async def consent(self) -> None:
        agree = (await self.chat({"text": "xin chào"}))["replies"][-1]["buttons"][0]
        assert agree["label"] == "Đồng ý"
        asked = await self.chat({"button": agree["payload"], "label": agree["label"]})
        skip = asked["replies"][-1]["buttons"][0]  # no name (asked once, after consent)
        assert skip["label"] == "Bỏ qua"
        await self.chat({"button": skip["payload"]})

    async def external_id(self, app: App) -> str:
        assert self.token is not None
        return self.token.split(".")[0]


async def post(client: Client, body: object, **headers: str) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/chat", json=body, headers=headers)
    return response.status, await response.json()


async def test_healthz(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"ok": True, "status": "ready"}


async def test_page_is_served_without_external_assets(client: Client) -> None:
    response = await client.get("/")
    assert response.status == 200
    html = await response.text()
    assert "<title>Trợ lý số</title>" in html
    assert "http://" not in html and "https://" not in html.replace("^https?:", "")
    assert "/api/chat" in html
    assert 'localStorage.getItem("trolyso-user' not in html  # no client-chosen id any more


async def test_greeting_consent_menu_and_button(client: Client) -> None:
    user = WebUser(client)
    first = (await user.chat({"text": "xin chào"}))["replies"]
    assert "Trợ lý số" in first[0]["text"]
    agree = first[-1]["buttons"][0]
    assert agree["label"] == "Đồng ý"
    asked = (await user.chat({"button": agree["payload"]}))["replies"][-1]
    assert "gọi bạn là gì" in asked["text"]  # the web has no name: one optional question
    menu = (await user.chat({"text": "Bác Ba"}))["replies"][-1]["buttons"]
    assert [b["label"] for b in menu][:2] == ["Hỏi đáp", "Bài học"]
    data = await user.chat({"button": menu[3]["payload"]})
    assert "Tổ công nghệ số" in data["replies"][0]["text"]
    assert set(data["replies"][0]) == {"text", "buttons", "image", "choices"}


async def test_the_server_issues_strong_ids_and_a_cookie(browser_like: Client, app: App) -> None:
    client = browser_like
    response = await client.post("/api/chat", json={"text": "xin chào"})
    assert response.status == 200
    token = (await response.json())["token"]
    external_id, _, signature = token.partition(".")
    assert len(external_id) == 24 and len(signature) == 43
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}={token};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    # the cookie alone identifies the browser: no token in the answer the second time
    again = await client.post("/api/chat", json={"text": "menu"})
    assert "token" not in await again.json()
    assert "Set-Cookie" not in again.headers
    async with app.db.transaction() as s:
        users = (await s.scalars(select(User).where(User.channel == "web"))).all()
    assert [u.external_id for u in users] == [external_id]


async def test_over_https_the_cookie_works_in_an_iframe(client: Client) -> None:
    response = await client.post(
        "/api/chat", json={"text": "xin chào"}, headers={"X-Forwarded-Proto": "https"}
    )
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "SameSite=None" in cookie and "Partitioned" in cookie


@pytest.mark.parametrize(
    "user", ["aaaaaaaaaaaaaaaa", "test-user-0123456789", "", 12345, None, {"id": "x"}]
)
async def test_a_client_chosen_id_is_refused(client: Client, user: object) -> None:
    status, data = await post(client, {"user": user, "text": "xin chào"})
    assert status == 400
    assert "issued by the server" in data["error"]


async def test_another_users_id_opens_nothing(client: Client, app: App) -> None:
    """Knowing a member's id (it shows in the CLI, in logs) gives nothing: only the token does."""
    from bot.core.replies import Reply

    member = WebUser(client)
    await member.chat({"text": "xin chào"})
    member_id = await member.external_id(app)
    async with app.db.transaction() as s:
        row = await UserRepo(s).find("web", member_id)
        assert row is not None
        row.role = "member"
    await app.services.deliver(row.id, [Reply(text="Câu hỏi của bác Ba: 0912 345 678")])
    jar = DummyCookieJar()  # a stranger who only knows the member's id
    async with TestClient(TestServer(app.web_app(), host="127.0.0.1"), cookie_jar=jar) as fresh:
        for attempt in (
            {"Authorization": f"Bearer {member_id}"},
            {"Authorization": f"Bearer {member_id}.{'A' * 43}"},
            {"Authorization": member_id},
            {"Cookie": f"{COOKIE}={member_id}"},
        ):
            response = await fresh.post("/api/chat", json={"text": "menu"}, headers=attempt)
            data = await response.json()
            if "Authorization" in attempt:
                assert response.status == 401, attempt
            else:  # a bad cookie is ignored: a stranger gets a new identity of their own
                assert response.status == 200
                assert data["token"].split(".")[0] != member_id
        inbox = await fresh.post("/api/inbox", json={}, headers={"Cookie": f"{COOKIE}={member_id}"})
        assert (await inbox.json())["replies"] == []
        # the old ways of naming a user do nothing
        old = await fresh.get("/api/inbox", params={"user": member_id})
        assert old.status == 405
        history = await fresh.get("/api/history", params={"user": member_id})
        assert (await history.json())["items"] == []
    # the member's pushed question is still waiting for the member alone
    mine = await client.post("/api/inbox", json={}, headers=member.headers())
    assert "0912" in (await mine.json())["replies"][0]["text"]


async def test_a_forged_token_is_refused(client: Client, app: App) -> None:
    user = WebUser(client)
    await user.chat({"text": "xin chào"})
    assert user.token is not None
    external_id, _, signature = user.token.partition(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    other_id = external_id[:-1] + ("y" if external_id[-1] == "x" else "x")
    for forged in (
        f"{external_id}.{flipped}",
        f"{external_id}.",
        f"{other_id}.{signature}",
        "a" * 24 + "." + signature,
        user.token + "x" * 100,
        "é" * 24 + "." + signature,
    ):
        status, data = await post(client, {"text": "menu"}, Authorization=f"Bearer {forged}")
        assert status == 401, forged
        assert "invalid token" in data["error"]
        for path in ("/api/history",):
            response = await client.get(path, headers={"Authorization": f"Bearer {forged}"})
            assert response.status == 401


async def test_the_key_is_shared_through_the_database(app: App) -> None:
    """Two processes (two apps here) on one database accept each other's tokens."""
    from bot.app import build_app
    from bot.channels.web_identity import WebIdentities

    other = build_app(app.services.config, db=app.db)  # a second process on the same database
    first, second = (
        WebIdentities(app.core.web_session_key),
        WebIdentities(other.core.web_session_key),
    )
    external_id, token = await first.issue()
    assert await second.verify(token) == external_id

    async def another_key() -> bytes:
        return b"k" * 40

    assert await WebIdentities(another_key).verify(token) is None


async def test_another_users_token_is_stale(client: Client) -> None:
    one, other = WebUser(client), WebUser(client)
    button = (await one.chat({"text": "xin chào"}))["replies"][-1]["buttons"][0]["payload"]
    await other.chat({"text": "xin chào"})
    data = await other.chat({"button": button})
    # still asked for consent: the foreign button token did nothing
    assert data["replies"][-1]["buttons"][0]["label"] == "Đồng ý"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"{}",
        b'{"text": 5}',
        b'{"button": ""}',
        b'{"button": 7}',
        b'{"text": "' + b"a" * 5000 + b'"}',
        b"\xff\xfe",
        b"[" * 50_000,
        b'{"text": "x", "a": ' + b"[" * 9 + b"]" * 9 + b"}",
        b'{"text": "x", "a": ' + b"{" * 5000 + b"}",
    ],
)
async def test_bad_requests_get_400_json(client: Client, body: bytes) -> None:
    response = await client.post(
        "/api/chat", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "error" in await response.json()


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth('{"text": "[[[[[[[[[[[[", "b": "\\"[["}') == 1
    assert json_depth("[" * 50_000) == 50_000
    assert json_depth('{"a": [{"b": []}]}') == 4


async def test_a_form_post_from_another_site_is_refused(client: Client) -> None:
    """A cross-site form can send the cookie but not a JSON content type."""
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = await client.post(
            "/api/chat", data=b'{"text": "xin chao"}', headers={"Content-Type": content_type}
        )
        assert response.status == 415


async def test_oversized_body_gets_413(client: Client) -> None:
    body = b'{"text": "' + b"a" * (70 * 1024) + b'"}'
    response = await client.post(
        "/api/chat", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert "error" in await response.json()


async def test_inbox_delivers_pushed_replies_once(client: Client, app: App) -> None:
    from bot.core.replies import Button, Reply

    user = WebUser(client)
    await user.consent()
    async with app.db.transaction() as s:
        row = await UserRepo(s).find("web", await user.external_id(app))
    assert row is not None
    pushed = Reply.with_buttons("Tin từ tổ", [Button("Mở", "menu:show")])
    await app.services.deliver(row.id, [pushed])
    response = await client.post("/api/inbox", json={}, headers=user.headers())
    replies = (await response.json())["replies"]
    assert replies[0]["text"] == "Tin từ tổ"
    assert replies[0]["buttons"][0]["payload"] != "menu:show"
    response = await client.post("/api/inbox", json={}, headers=user.headers())
    assert (await response.json())["replies"] == []
    # what was pushed is in the history too, after the turns
    history = await client.get("/api/history", headers=user.headers())
    items = (await history.json())["items"]
    assert items[0] == {"from": "me", "text": "Đồng ý"}
    assert items[-1]["text"] == "Tin từ tổ"


async def test_history_keeps_the_last_turns_with_button_labels(client: Client, app: App) -> None:
    from storage.repos.delivery import WebHistoryRepo

    user = WebUser(client)
    await user.consent()
    menu = (await user.chat({"text": "menu"}))["replies"][-1]["buttons"]
    await user.chat({"button": menu[0]["payload"]})  # no label given: found in the history
    items = (await (await client.get("/api/history", headers=user.headers())).json())["items"]
    said = [i["text"] for i in items if i["from"] == "me"]
    assert said == ["Đồng ý", "Bỏ qua", "menu", menu[0]["label"]]
    assert items[-1]["from"] == "bot"
    for n in range(WebHistoryRepo.KEEP):
        await user.chat({"text": f"câu {n}"})
    items = (await (await client.get("/api/history", headers=user.headers())).json())["items"]
    assert len(items) == WebHistoryRepo.KEEP
    said = [i["text"] for i in items if i["from"] == "me"]
    assert said[-1] == f"câu {WebHistoryRepo.KEEP - 1}"


async def test_a_database_outage_gets_the_apology_in_the_normal_format(
    client: Client, app: App, tmp_path: Path
) -> None:
    user = WebUser(client)
    await user.chat({"text": "xin chào"})
    # The database goes away: every new connection fails ("unable to open database file").
    gone = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/x.db")
    working = app.db.sessions
    app.db.sessions = async_sessionmaker(gone)
    try:
        response = await client.post("/api/chat", json={"text": "menu"}, headers=user.headers())
        assert response.status == 503
        data = await response.json()
        apology = app.store.current.messages("fallback.error")
        assert data == {
            "replies": [{"text": apology, "buttons": [], "image": None, "choices": False}]
        }
        # a forged token is still refused (this process already knows the signing key)
        status, data = await post(client, {"text": "xin chào"}, Authorization="Bearer x.y")
        assert status == 401
        inbox = await client.post("/api/inbox", json={}, headers=user.headers())
        assert inbox.status == 503 and "error" in await inbox.json()
    finally:
        app.db.sessions = working
        await gone.dispose()
    data = await user.chat({"text": "menu"})  # back: the same user goes on
    assert data["replies"]


async def test_nothing_is_kept_before_consent_and_a_decline_forgets(client: Client) -> None:
    """What someone types before agreeing may be personal: the history starts at consent."""
    user = WebUser(client)
    first = await user.chat({"text": "tôi tên Ba, số 0912345678"})
    assert (await (await client.get("/api/history", headers=user.headers())).json())["items"] == []
    buttons = first["replies"][-1]["buttons"]
    decline = next(b for b in buttons if b["label"] != "Đồng ý" and "Xem" not in b["label"])
    await user.chat({"button": decline["payload"], "label": decline["label"]})
    assert (await (await client.get("/api/history", headers=user.headers())).json())["items"] == []


async def test_erasing_my_data_erases_the_history(client: Client, app: App) -> None:
    from sqlalchemy import func

    from storage.models import WebHistory

    user = WebUser(client)
    await user.consent()
    await user.chat({"text": "số của tôi 0912345678"})
    replies = (await user.chat({"text": "xóa dữ liệu của tôi"}))["replies"]
    confirm = replies[-1]["buttons"][0]
    await user.chat({"button": confirm["payload"]})
    async with app.db.transaction() as s:
        left = await s.scalar(select(func.count()).select_from(WebHistory))
    assert left == 0


async def test_a_page_opening_with_no_history_gets_the_menu(client: Client, app: App) -> None:
    """Someone known whose history is gone (or who never had one) sees the menu, not a blank."""
    from storage.repos.delivery import WebHistoryRepo

    user = WebUser(client)
    await user.consent()
    async with app.db.transaction() as s:
        await WebHistoryRepo(s).forget(await user.external_id(app))
    replies = (await user.chat({"start": True}))["replies"]
    labels = [b["label"] for r in replies for b in r["buttons"]]
    assert "Bài học" in labels and "Hỏi đáp" in labels
    items = (await (await client.get("/api/history", headers=user.headers())).json())["items"]
    assert [i["from"] for i in items] == ["bot"] * len(replies)  # the greeting is not "said"
