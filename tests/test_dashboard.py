"""The web dashboard over real HTTP: sign-in by a chat link, sessions, scope, CSRF, headers.

Every route is tried by someone who may not use it: no session, a citizen, a member of another
team, a commune official of another commune, a POST without its CSRF token.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta

import pytest
from aiohttp import CookieJar, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import App
from bot.channels.memory import MemoryChannel
from bot.core.ports import Unreachable
from bot.core.replies import Reply
from bot.dashboard.auth import ATTEMPTS_PER_WINDOW, COOKIE
from storage.models import DashboardLink, DashboardSession, Team, TeamQuestion
from storage.repos.teams import QuestionRepo, TeamRepo
from tests.conftest import consent
from tests.replies import keys, labels, texts
from tests.test_teams import make_member, make_team, user_row

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[], Awaitable[Client]]

LINK = re.compile(r"https?://[^\s/]+(/quan-ly/vao\?t=[A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')

PAGES = ["/quan-ly/", "/quan-ly/can-giup", "/quan-ly/cau-hoi", "/quan-ly/nguoi-dan"]
PAGES += ["/quan-ly/xuat", "/quan-ly/xuat/nguoi-dan.csv", "/quan-ly/xuat/bao-cao-xa.csv"]
PAGES += ["/quan-ly/thong-bao", "/quan-ly/xuat/bao-cao-xa"]
POSTS = ["/quan-ly/thoat", "/quan-ly/can-giup/huong-dan", "/quan-ly/can-giup/nhan-tin"]
POSTS += ["/quan-ly/cau-hoi/tra-loi", "/quan-ly/nguoi-dan", "/quan-ly/nguoi-dan/ho"]
POSTS += ["/quan-ly/nguoi-dan/ghi-chu"]
POSTS += ["/quan-ly/thong-bao/xem-truoc", "/quan-ly/thong-bao/gui", "/quan-ly/thong-bao/huy"]


@pytest.fixture
async def clients(app: App) -> AsyncIterator[MakeClient]:
    """New browser-like HTTP clients (each its own cookie jar) on one server."""
    server = TestServer(app.web_app(), host="127.0.0.1")
    made: list[Client] = []

    async def make() -> Client:
        client = TestClient(server, cookie_jar=CookieJar(unsafe=True))
        await client.start_server()
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()
    await server.close()


async def chat_link(chat: MemoryChannel, user: str) -> str:
    """The path of the one-time link a staff user gets in the chat."""
    await chat.say(user, "/team")
    replies = await chat.press(user, "Mở trang quản lý")
    assert keys(replies) == ["dashboard.link"]
    found = LINK.search(texts(replies))
    assert found is not None
    return found.group(1)


async def redeem(client: Client, path: str) -> int:
    """Open a link page and press its button; the status of the POST (303: signed in)."""
    page = await client.get(path)
    assert page.status == 200
    token = path.split("t=", 1)[1]
    response = await client.post("/quan-ly/vao", data={"t": token}, allow_redirects=False)
    return response.status


async def signed_in(clients: MakeClient, chat: MemoryChannel, user: str) -> Client:
    client = await clients()
    assert await redeem(client, await chat_link(chat, user)) == 303
    return client


async def csrf_of(client: Client, path: str = "/quan-ly/") -> str:
    page = await client.get(path)
    assert page.status == 200
    found = CSRF.search(await page.text())
    assert found is not None
    return found.group(1)


async def citizen_of(app: App, chat: MemoryChannel, user: str, team: Team, name: str) -> None:
    await consent(chat, user, name=name)
    await chat.say(user, team.code)


async def ask(app: App, user: str, team: Team, text: str) -> int:
    async with app.db.transaction() as session:
        row = await user_row(app, user)
        question, _ = await QuestionRepo(session).ask(row, team.id, text, "direct")
        await session.flush()
        return question.id


async def test_a_member_signs_in_with_the_chat_link_once(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    path = await chat_link(chat, "mem")
    client = await clients()
    # Opening the page does not use the link (link previewers fetch it)
    assert (await client.get(path)).status == 200
    token = path.split("t=", 1)[1]
    signed = await client.post("/quan-ly/vao", data={"t": token}, allow_redirects=False)
    assert signed.status == 303
    set_cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Path=/quan-ly/" in set_cookie and "Secure" not in set_cookie  # http in tests
    page = await client.get("/quan-ly/")
    assert page.status == 200
    html = await page.text()
    assert "Tổng quan" in html and "<svg" in html
    # The same link a second time (another browser): refused
    again = await clients()
    assert await redeem(again, path) == 403
    assert (await again.get("/quan-ly/", allow_redirects=False)).status == 303
    async with app.db.transaction() as session:
        stored = (await session.execute(select(DashboardLink))).scalars().all()
        assert path.split("t=")[1] not in {s.token_hash for s in stored}  # only hashes


async def test_citizens_get_no_link_and_no_session(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    team = await make_team(app)
    await citizen_of(app, chat, "cit", team, "Bà Tư")
    assert "Mở trang quản lý" not in labels(await chat.say("cit", "/team"))
    assert "dashboard.link" not in keys(await chat.say("cit", "/dashboard"))
    # A link issued to a user who is a citizen now (demoted) opens nothing
    async with app.db.transaction() as session:
        from storage.repos.dashboard import DashboardRepo

        row = await user_row(app, "cit")
        token = await DashboardRepo(session).issue_link(
            row.id, app.services.clock(), timedelta(minutes=10)
        )
    client = await clients()
    assert await redeem(client, f"/quan-ly/vao?t={token}") == 403


async def test_expired_and_forged_links_are_refused_and_guessing_is_slowed(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    path = await chat_link(chat, "mem")
    async with app.db.transaction() as session:
        for link in (await session.execute(select(DashboardLink))).scalars():
            link.expires_at = app.services.clock() - timedelta(seconds=1)
    client = await clients()
    assert await redeem(client, path) == 403
    assert await redeem(client, "/quan-ly/vao?t=forged") == 403
    fresh = await chat_link(chat, "mem")
    for _ in range(ATTEMPTS_PER_WINDOW):
        await client.post("/quan-ly/vao", data={"t": "guess"})
    # Over the limit, even a good link waits
    assert await redeem(client, fresh) == 429


async def test_every_page_needs_a_session(clients: MakeClient) -> None:
    client = await clients()
    for path in [*PAGES, "/quan-ly/quan-tri"]:
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303, path
        assert response.headers["Location"] == "/quan-ly/vao"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
    for path in POSTS:
        response = await client.post(path, data={"csrf": "x"}, allow_redirects=False)
        assert response.status == 303, path
    client.session.cookie_jar.update_cookies({COOKIE: "forged"})
    assert (await client.get("/quan-ly/", allow_redirects=False)).status == 303


async def test_every_post_needs_the_csrf_token(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    client = await signed_in(clients, chat, "mem")
    for path in POSTS:
        missing = await client.post(path, data={"text": "x"}, allow_redirects=False)
        assert missing.status == 403, path
        wrong = await client.post(path, data={"csrf": "wrong"}, allow_redirects=False)
        assert wrong.status == 403, path
    page = await client.get("/quan-ly/")
    assert page.status == 200  # still signed in: log-out without the token did nothing
    headers = page.headers
    csp = headers["Content-Security-Policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp  # no script at all
    assert "<script" not in await page.text()


async def test_a_member_sees_only_their_team(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    east, west = await make_team(app, "Thôn Đông"), await make_team(app, "Thôn Tây")
    await make_member(app, chat, "mem_e", east)
    await citizen_of(app, chat, "cit_e", east, "Bà Đông")
    await citizen_of(app, chat, "cit_w", west, "Ông Tây")
    qid = await ask(app, "cit_w", west, "Câu hỏi của thôn Tây")
    client = await signed_in(clients, chat, "mem_e")
    for path in PAGES:
        response = await client.get(path)
        assert response.status == 200, path
        body = (await response.read()).decode("utf-8-sig")
        assert "Ông Tây" not in body and "Thôn Tây" not in body, path
        assert "Câu hỏi của thôn Tây" not in body
    citizens = await client.get("/quan-ly/nguoi-dan")
    assert "Bà Đông" in await citizens.text()
    # Team B's id in the address or a form: not found, not team B's data
    for path in PAGES:
        response = await client.get(f"{path}?to={west.id}")
        assert response.status == 404, path
    token = await csrf_of(client)
    search = await client.post("/quan-ly/nguoi-dan", data={"csrf": token, "to": str(west.id)})
    assert search.status == 404
    answer = await client.post(
        "/quan-ly/cau-hoi/tra-loi",
        data={"csrf": token, "question": str(qid), "text": "trả lời lạ"},
        allow_redirects=False,
    )
    assert answer.status == 404
    west_citizen = await user_row(app, "cit_w")
    citizen_posts = ("/quan-ly/can-giup/nhan-tin", "/quan-ly/can-giup/huong-dan")
    for path in (*citizen_posts, "/quan-ly/nguoi-dan/ho", "/quan-ly/nguoi-dan/ghi-chu"):
        data = {"csrf": token, "user": str(west_citizen.id), "text": "x", "skill": "dvc_basic"}
        response = await client.post(path, data=data, allow_redirects=False)
        assert response.status == 404, path
    for path in ("/quan-ly/thong-bao/xem-truoc", "/quan-ly/thong-bao/gui"):
        data = {"csrf": token, "to": str(west.id), "kind": "announcement", "text": "Họp"}
        response = await client.post(path, data=data, allow_redirects=False)
        assert response.status == 404, path
        del data["to"]  # no team: a member's broadcast is for their own team only
        if path.endswith("xem-truoc"):
            preview = await (await client.post(path, data=data)).text()
            assert "Sẽ gửi cho <b>1</b> người" in preview  # Bà Đông, not Ông Tây
    async with app.db.transaction() as session:
        from storage.models import Broadcast

        assert (await session.execute(select(func.count()).select_from(Broadcast))).scalar() == 0
    assert "cit_w" not in chat.sent
    async with app.db.transaction() as session:
        question = await session.get(TeamQuestion, qid)
        assert question is not None and question.status == "open"
    # The admin page is for admins only
    assert (await client.get("/quan-ly/quan-tri")).status == 404


async def test_answering_a_question_reaches_the_citizen(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    await citizen_of(app, chat, "cit", team, "Bà Tư")
    qid = await ask(app, "cit", team, "Làm sao đăng ký VNeID?")
    client = await signed_in(clients, chat, "mem")
    page = await (await client.get("/quan-ly/cau-hoi")).text()
    assert "Làm sao đăng ký VNeID?" in page
    token = await csrf_of(client, "/quan-ly/cau-hoi")
    data = {"csrf": token, "question": str(qid), "text": "Bác ra công an xã nhé."}
    response = await client.post("/quan-ly/cau-hoi/tra-loi", data=data)
    assert response.status == 200 and "Đã gửi câu trả lời" in await response.text()
    assert "Bác ra công an xã nhé." in texts(chat.sent["cit"])
    again = await client.post("/quan-ly/cau-hoi/tra-loi", data=data)
    assert "đã có người trả lời" in await again.text()
    assert texts(chat.sent["cit"]).count("Bác ra công an xã nhé.") == 1


async def test_an_answer_that_did_not_reach_the_citizen_is_not_called_sent(
    app: App, chat: MemoryChannel, clients: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    await citizen_of(app, chat, "cit", team, "Bà Tư")
    qid = await ask(app, "cit", team, "Làm sao đăng ký VNeID?")
    client = await signed_in(clients, chat, "mem")
    token = await csrf_of(client, "/quan-ly/cau-hoi")

    async def blocked(external_id: str, replies: Sequence[Reply]) -> None:
        raise Unreachable("blocked")

    monkeypatch.setattr(chat, "send", blocked)
    data = {"csrf": token, "question": str(qid), "text": "Bác ra công an xã nhé."}
    page = await (await client.post("/quan-ly/cau-hoi/tra-loi", data=data)).text()
    assert "Đã gửi câu trả lời" not in page
    assert "Câu trả lời đã được lưu. Người này đã chặn hoặc bỏ theo dõi trợ lý" in page
    async with app.db.transaction() as session:
        question = await session.get(TeamQuestion, qid)
        assert question is not None and question.status == "answered"


async def test_a_commune_official_sees_their_commune_only(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    east = await make_team(app, "Thôn Đông", "Xã Tân Hòa")
    west = await make_team(app, "Thôn Tây", "Xã Tân Hòa")
    other = await make_team(app, "Thôn Bắc", "Xã An Phú")
    await make_member(app, chat, "cb", east, role="commune")
    await citizen_of(app, chat, "c1", east, "Bà Đông")
    await citizen_of(app, chat, "c2", west, "Ông Tây")
    await citizen_of(app, chat, "c3", other, "Cô Bắc")
    client = await signed_in(clients, chat, "cb")
    overview = await (await client.get("/quan-ly/")).text()
    assert "Thôn Đông" in overview and "Thôn Tây" in overview and "Thôn Bắc" not in overview
    people = await (await client.get("/quan-ly/nguoi-dan")).text()
    assert "Bà Đông" in people and "Ông Tây" in people and "Cô Bắc" not in people
    assert (await client.get(f"/quan-ly/?to={west.id}")).status == 200
    token = await csrf_of(client)
    found = await client.post("/quan-ly/nguoi-dan", data={"csrf": token, "q": "ong tay"})
    html = await found.text()  # typed without diacritics; searched by POST, not in the URL
    assert "Ông Tây" in html and "Bà Đông" not in html
    for path in PAGES:
        assert (await client.get(f"{path}?to={other.id}")).status == 404, path
    report = await client.get("/quan-ly/xuat/bao-cao-xa.csv")
    rows = list(csv.reader(io.StringIO((await report.read()).decode("utf-8-sig"))))
    assert [r[1] for r in rows[1:-1]] == ["Thôn Đông", "Thôn Tây"]  # then the note
    assert [r[3] for r in rows[1:-1]] == ["1", "1"]
    table = (await (await client.get("/quan-ly/xuat/nguoi-dan.csv")).read()).decode("utf-8-sig")
    assert "Bà Đông" in table and "Ông Tây" in table and "Cô Bắc" not in table


async def test_log_out_revokes_the_session(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    client = await signed_in(clients, chat, "mem")
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/quan-ly/"))[COOKIE].value
    token = await csrf_of(client)
    out = await client.post("/quan-ly/thoat", data={"csrf": token}, allow_redirects=False)
    assert out.status == 303
    replay = await clients()
    replay.session.cookie_jar.update_cookies({COOKIE: cookie})
    assert (await replay.get("/quan-ly/", allow_redirects=False)).status == 303
    async with app.db.transaction() as session:
        revoked = await session.scalar(
            select(func.count())
            .select_from(DashboardSession)
            .where(DashboardSession.revoked_at.is_not(None))
        )
        assert revoked == 1


async def test_an_admin_sees_every_team_and_the_content_page(
    app: App, chat: MemoryChannel, clients: MakeClient
) -> None:
    east, north = await make_team(app, "Thôn Đông"), await make_team(app, "Thôn Bắc", "Xã An Phú")
    await make_member(app, chat, "adm", None, role="admin")
    await citizen_of(app, chat, "c1", east, "Bà Đông")
    await citizen_of(app, chat, "c3", north, "Cô Bắc")
    client = await signed_in(clients, chat, "adm")
    people = await (await client.get("/quan-ly/nguoi-dan")).text()
    assert "Bà Đông" in people and "Cô Bắc" in people
    admin = await client.get("/quan-ly/quan-tri")
    assert admin.status == 200 and "Lỗi nội dung" in await admin.text()
    async with app.db.transaction() as session:
        assert len(await TeamRepo(session).all()) == 2


async def test_housekeeping_deletes_expired_links_and_sessions(
    app: App, chat: MemoryChannel
) -> None:
    from bot.core.housekeeping import clean_once
    from storage.repos.dashboard import DashboardRepo

    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    row = await user_row(app, "mem")
    long_ago = app.services.clock() - timedelta(days=3)
    async with app.db.transaction() as session:
        repo = DashboardRepo(session)
        await repo.issue_link(row.id, long_ago, timedelta(minutes=10))
        await repo.open_session(row.id, long_ago, timedelta(hours=12))
        await repo.open_session(row.id, app.services.clock(), timedelta(hours=12))
    await clean_once(app.db)
    async with app.db.transaction() as session:
        assert (await session.execute(select(DashboardLink))).first() is None
        assert len((await session.execute(select(DashboardSession))).all()) == 1
