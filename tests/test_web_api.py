"""The web chat's JSON API over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App

USER = "test-user-0123456789"


@pytest.fixture
async def client(app: App) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(app.web_app(), host="127.0.0.1")) as c:
        yield c


async def chat(client: TestClient, body: object) -> dict:  # type: ignore[type-arg]
    response = await client.post("/api/chat", json=body)
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_healthz(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"ok": True}


async def test_page_is_served_without_external_assets(client: TestClient) -> None:  # type: ignore[type-arg]
    response = await client.get("/")
    assert response.status == 200
    html = await response.text()
    assert "<title>Trợ lý số</title>" in html
    assert "http://" not in html and "https://" not in html.replace("^https?:", "")
    assert "/api/chat" in html


async def test_greeting_consent_menu_and_button(client: TestClient) -> None:  # type: ignore[type-arg]
    data = await chat(client, {"user": USER, "text": "xin chào"})
    assert data["user"] == USER
    first = data["replies"]
    assert "Trợ lý số" in first[0]["text"]
    agree = first[-1]["buttons"][0]
    assert agree["label"] == "Đồng ý"
    data = await chat(client, {"user": USER, "button": agree["payload"]})
    menu = data["replies"][-1]["buttons"]
    assert [b["label"] for b in menu][:2] == ["Hỏi đáp", "Bài học"]
    data = await chat(client, {"user": USER, "button": menu[3]["payload"]})
    assert "Tổ công nghệ số" in data["replies"][0]["text"]
    assert set(data["replies"][0]) == {"text", "buttons", "image", "choices"}


async def test_missing_or_short_user_gets_a_fresh_id(client: TestClient) -> None:  # type: ignore[type-arg]
    await chat(client, {"user": USER, "text": "xin chào"})
    for bad in (None, "", "short", USER[:15], "x" * 65, "has spaces in it!!", 12345):
        body = {"text": "xin chào"} if bad is None else {"user": bad, "text": "xin chào"}
        data = await chat(client, body)
        assert data["user"] != USER
        assert len(data["user"]) >= 16
        assert data["user"] != bad


async def test_another_users_token_is_stale(client: TestClient) -> None:  # type: ignore[type-arg]
    data = await chat(client, {"user": USER, "text": "xin chào"})
    token = data["replies"][-1]["buttons"][0]["payload"]
    other = "other-user-0123456789"
    await chat(client, {"user": other, "text": "xin chào"})
    data = await chat(client, {"user": other, "button": token})
    # still asked for consent: the foreign token did nothing
    assert data["replies"][-1]["buttons"][0]["label"] == "Đồng ý"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"user": "test-user-0123456789"}',
        b'{"user": "test-user-0123456789", "text": 5}',
        b'{"user": "test-user-0123456789", "button": ""}',
        b'{"user": "test-user-0123456789", "button": 7}',
        b'{"user": "test-user-0123456789", "text": "' + b"a" * 5000 + b'"}',
        b"\xff\xfe",
    ],
)
async def test_bad_requests_get_400_json(client: TestClient, body: bytes) -> None:  # type: ignore[type-arg]
    response = await client.post(
        "/api/chat", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "error" in await response.json()


async def test_oversized_body_gets_413(client: TestClient) -> None:  # type: ignore[type-arg]
    body = b'{"user": "test-user-0123456789", "text": "' + b"a" * (70 * 1024) + b'"}'
    response = await client.post(
        "/api/chat", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert "error" in await response.json()


async def test_inbox_delivers_pushed_replies_once(client: TestClient, app: App) -> None:  # type: ignore[type-arg]
    from bot.core.replies import Button, Reply
    from storage.repos.users import UserRepo

    await chat(client, {"user": USER, "text": "xin chào"})
    async with app.db.transaction() as s:
        user = await UserRepo(s).find("web", USER)
    assert user is not None
    await app.services.deliver(
        user.id, [Reply.with_buttons("Tin từ tổ", [Button("Mở", "menu:show")])]
    )
    response = await client.get("/api/inbox", params={"user": USER})
    replies = (await response.json())["replies"]
    assert replies[0]["text"] == "Tin từ tổ"
    token = replies[0]["buttons"][0]["payload"]
    assert token != "menu:show"
    response = await client.get("/api/inbox", params={"user": USER})
    assert (await response.json())["replies"] == []
    bad = await client.get("/api/inbox", params={"user": "x"})
    assert bad.status == 400
