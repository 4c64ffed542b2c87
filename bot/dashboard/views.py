"""The dashboard's pages. Each one takes its viewer from the checked session (``auth``) and
the team from ``Viewer.team`` (a team id from the page is only a wish, checked there).

Numbers come from ``bot.reports`` (the same report the chat's team tools and the CLI show);
answers and messages reach citizens through the core's delivery port (``Services.deliver``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.config import QUESTION_VIEW_DAYS
from bot.content.problems import ContentError
from bot.content.snapshot import load_snapshot
from bot.core.text import strip_marks
from bot.dashboard.auth import (
    ATTEMPT_WINDOW,
    ATTEMPTS_PER_WINDOW,
    COOKIE,
    SERVICES,
    SESSION_HOURS,
    Viewer,
    client_key,
    secure_cookie,
    viewer_of,
)
from bot.dashboard.overview import overview_html as overview_html  # the bench's entry
from bot.dashboard.overview import overview_values
from bot.outreach import MAX_MESSAGE, deliver_now, refusal, refusal_text, to_citizen
from bot.reports.build import Report, build_report, display_name
from bot.reports.table import csv_bytes
from storage.models import Role, Team
from storage.repos.answers import AnswerRepo
from storage.repos.dashboard import DashboardRepo
from storage.repos.followup import NoteRepo
from storage.repos.teams import ProgressRepo, QuestionRepo, TeamRepo, sort_key
from storage.repos.threads import ThreadRepo
from storage.repos.users import UserRepo

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # longest answer or message typed on a page
MAX_LISTED = 200  # citizens listed on one page


def page_context(request: web.Request, **values: Any) -> dict[str, Any]:
    """What every page template gets: the viewer and the CSRF token of its forms."""
    viewer = viewer_of(request)
    return {"viewer": viewer, "csrf": viewer.csrf, "Role": Role, **values}


async def _report(request: web.Request, team: Team | None) -> Report:
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        return await build_report(
            session,
            services.store.current,
            team,
            services.clock(),
            services.config.teams.stuck_days,
            notes=may_note(viewer_of(request)),
        )


def may_note(viewer: Viewer) -> bool:
    """Whether the viewer reads and writes the teams' notes: members, leads and admins (a
    commune official oversees the villages, the notes stay with each team)."""
    return viewer.role in (Role.MEMBER, Role.LEAD, Role.ADMIN)


async def _reports(request: web.Request, team: Team | None) -> list[Report]:
    """One report per team in view: the chosen team, or each of the viewer's teams."""
    viewer = viewer_of(request)
    teams = [team] if team is not None else list(viewer.teams)
    return [await _report(request, t) for t in teams]


def _team(request: web.Request, form: Any = None) -> Team | None:
    wanted = (form or request.query).get("to")
    return viewer_of(request).team(str(wanted) if wanted is not None else None)


# --- sign-in ---------------------------------------------------------------------------------


@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict[str, Any]:
    """The page a chat link opens: a button that uses the link (a GET never uses it)."""
    return {"token": request.query.get("t", "")[:100], "viewer": None}


async def login(request: web.Request) -> web.StreamResponse:
    """Use a one-time link: at most ``ATTEMPTS_PER_WINDOW`` tries per client and window."""
    services = request.app[SERVICES]
    form = await request.post()
    token = str(form.get("t", ""))[:100]
    now = services.clock()
    async with services.db.transaction() as session:
        repo = DashboardRepo(session)
        client = client_key(request, services.config.web.trusted_proxies)
        tries = await repo.attempt(client, now, ATTEMPT_WINDOW)
        user_id = await repo.redeem_link(token, now) if tries <= ATTEMPTS_PER_WINDOW else None
        user = await UserRepo(session).get(user_id) if user_id is not None else None
        cookie = None
        if user is not None and user.role in (Role.MEMBER, Role.LEAD, Role.COMMUNE, Role.ADMIN):
            cookie = await repo.open_session(user.id, now, timedelta(hours=SESSION_HOURS))
    if cookie is None:
        log.info(
            "dashboard: sign-in refused (%s)", "rate" if tries > ATTEMPTS_PER_WINDOW else "link"
        )
        status = 429 if tries > ATTEMPTS_PER_WINDOW else 403
        context = {"viewer": None, "limited": status == 429}
        return aiohttp_jinja2.render_template("refused.html", request, context, status=status)
    response = web.HTTPSeeOther("/quan-ly/")
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=SESSION_HOURS * 3600,
        path="/quan-ly/",
        httponly=True,
        samesite="Lax",
        secure=secure_cookie(services),
    )
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    """End this session."""
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        await DashboardRepo(session).revoke(viewer_of(request).token, services.clock())
    response = web.HTTPSeeOther("/quan-ly/vao")
    response.del_cookie(COOKIE, path="/quan-ly/")
    return response


# --- overview --------------------------------------------------------------------------------


@aiohttp_jinja2.template("overview.html")
async def overview(request: web.Request) -> dict[str, Any]:
    """Citizens, the five basic skills, completions per skill; per village for a commune."""
    team = _team(request)
    viewer = viewer_of(request)
    services = request.app[SERVICES]
    teams = [team] if team is not None else list(viewer.teams)
    async with services.db.transaction() as session:
        values = await overview_values(
            session,
            services.store.current,
            teams,
            services.clock(),
            services.config.teams.stuck_days,
        )
    return page_context(request, page="overview", team=team, **values)


# --- who needs help --------------------------------------------------------------------------


@aiohttp_jinja2.template("help.html")
async def needs_help(request: web.Request) -> dict[str, Any]:
    """Who is stuck on a lesson or failed a quiz, with a message box and "guided in person"."""
    team = _team(request)
    reports = await _reports(request, team)
    stuck = [s for r in reports for s in r.stuck]
    messages = request.app[SERVICES].store.current.messages
    items = [
        {
            "user": s.row.user.id,
            "name": display_name(s.row.user, messages),
            "team": s.row.team,
            "skill": s.skill,
            "kind": s.kind,
            "idle": s.idle_days,
            "step": s.step,
            "steps": s.steps,
            "correct": s.correct,
            "total": s.total,
            "note": s.row.note,
        }
        for s in stuck
    ]
    done = request.query.get("ok", "")
    refused = ""
    if done not in ("", "sent", "guided", "empty"):
        services = request.app[SERVICES]
        text = refusal_text(messages, services, done[:32], messages("dashboard.this_citizen"))
        refused = text[:1].upper() + text[1:]
    return page_context(request, page="help", team=team, items=items, done=done, refused=refused)


async def _citizen_in_view(request: web.Request, user_id: str) -> tuple[int, Team] | None:
    """The citizen ``user_id`` (from a form) and their team, if the viewer may see them."""
    if not user_id.isdigit():
        return None
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        user = await UserRepo(session).get(int(user_id))
        team = await TeamRepo(session).team_of(int(user_id)) if user else None
    if user is None or team is None or user.role != Role.CITIZEN:
        return None
    if all(t.id != team.id for t in viewer_of(request).teams):
        return None
    return user.id, team


async def guide(request: web.Request) -> web.StreamResponse:
    """Record that the viewer taught a citizen a skill in person."""
    form = await request.post()
    found = await _citizen_in_view(request, str(form.get("user", "")))
    skill = str(form.get("skill", ""))
    services = request.app[SERVICES]
    if found is None or services.store.current.lessons.get(skill) is None:
        raise web.HTTPNotFound
    user_id, team = found
    async with services.db.transaction() as session:
        await ProgressRepo(session).guide(
            user_id, skill, team.id, viewer_of(request).user.id, services.clock()
        )
    raise web.HTTPSeeOther("/quan-ly/can-giup?ok=guided")


async def message(request: web.Request) -> web.StreamResponse:
    """Send a short message to a citizen on their channel, within the channel's rules
    (``bot/outreach.py``, as "Nhắn cho bác" in the chat); the citizen can answer it."""
    form = await request.post()
    found = await _citizen_in_view(request, str(form.get("user", "")))
    text = str(form.get("text", "")).strip()
    if found is None:
        raise web.HTTPNotFound
    if not text or len(text) > MAX_MESSAGE:
        raise web.HTTPSeeOther("/quan-ly/can-giup?ok=empty")
    user_id, team = found
    services = request.app[SERVICES]
    viewer = viewer_of(request)
    messages = services.store.current.messages
    who = (viewer.user.display_name or "").strip() or team.name
    async with services.db.transaction() as session:
        citizen = await UserRepo(session).get(user_id)
        assert citizen is not None
        reason = await refusal(session, services, citizen, proactive=True)
        if reason is None:
            threads = ThreadRepo(session)
            now = services.clock()
            thread = await threads.open(team.id, user_id, viewer.user.id, None, now)
            await threads.add(thread, False, viewer.user.id, text, now)
            body = messages("thread.from_member", team=team.name, who=who, text=text)
            reply = to_citizen(messages, thread.id, body)
    if reason is None:
        reason = await deliver_now(services, user_id, [reply])
    raise web.HTTPSeeOther(f"/quan-ly/can-giup?ok={reason or 'sent'}")


# --- questions waiting -----------------------------------------------------------------------


@aiohttp_jinja2.template("questions.html")
async def questions(request: web.Request) -> dict[str, Any]:
    """Open questions of the teams in view (admins: also the admin queue), with answer boxes."""
    team = _team(request)
    viewer = viewer_of(request)
    services = request.app[SERVICES]
    messages = services.store.current.messages
    teams = [team] if team is not None else list(viewer.teams)
    names = {t.id: t for t in teams}
    items = []
    async with services.db.transaction() as session:
        repo, users = QuestionRepo(session), UserRepo(session)
        queues: list[int | None] = [t.id for t in teams]
        if viewer.is_admin and team is None:
            queues.append(None)
        for queue in queues:
            for q in await repo.open(queue, limit=50):
                asker = await users.get(q.user_id)
                items.append(
                    {
                        "id": q.id,
                        "text": q.text,
                        "at": q.created_at,
                        "team": names.get(q.team_id or 0),
                        "name": display_name(asker, messages) if asker else "",
                    }
                )
    done = request.query.get("ok", "")
    refused = ""
    if done not in ("", "sent", "already", "empty"):
        text = refusal_text(messages, services, done[:32], messages("dashboard.this_citizen"))
        refused = text[:1].upper() + text[1:]
    return page_context(
        request, page="questions", team=team, items=items, done=done, refused=refused
    )


async def answer(request: web.Request) -> web.StreamResponse:
    """Answer a waiting question: recorded, then delivered to the citizen's channel."""
    form = await request.post()
    qid = str(form.get("question", ""))
    text = str(form.get("text", "")).strip()[:MAX_TEXT]
    services = request.app[SERVICES]
    viewer = viewer_of(request)
    if not qid.isdigit():
        raise web.HTTPNotFound
    if not text:
        raise web.HTTPSeeOther("/quan-ly/cau-hoi?ok=empty")
    messages = services.store.current.messages
    async with services.db.transaction() as session:
        repo = QuestionRepo(session)
        question = await repo.get(int(qid))
        allowed = question is not None and (
            viewer.is_admin or any(t.id == question.team_id for t in viewer.teams)
        )
        if question is None or not allowed:
            raise web.HTTPNotFound
        if not await repo.answer(question, viewer.user, text, services.clock()):
            raise web.HTTPSeeOther("/quan-ly/cau-hoi?ok=already")
        team = await TeamRepo(session).get(question.team_id) if question.team_id else None
        team_name = team.name if team else messages("question.admin_team")
        me = (viewer.user.display_name or "").strip() or team_name
        delivered = messages(
            "question.delivered", team=team_name, question=question.text, answer=text, who=me
        )
        asker = question.user_id
        thread = await ThreadRepo(session).open(
            question.team_id, asker, viewer.user.id, question.id, services.clock()
        )
        reply = to_citizen(messages, thread.id, delivered)  # "Trả lời tổ": back to this member
    reason = await deliver_now(services, asker, [reply])  # the page says only what is known
    raise web.HTTPSeeOther(f"/quan-ly/cau-hoi?ok={reason or 'sent'}")


# --- citizens --------------------------------------------------------------------------------


@aiohttp_jinja2.template("citizens.html")
async def citizens(request: web.Request) -> dict[str, Any]:
    """Citizens with their skills; searched by name or village (POST: no names in URLs)."""
    form = await request.post() if request.method == "POST" else None
    team = _team(request, form)
    search = str(form.get("q", "")).strip()[:100] if form else ""
    wanted = _folded(search)
    reports = await _reports(request, team)
    snapshot = request.app[SERVICES].store.current
    rows: list[dict[str, Any]] = []
    for report in reports:
        for row in report.rows:
            name = display_name(row.user, snapshot.messages)
            village = row.team.village if row.team else ""
            if wanted and wanted not in _folded(name) and wanted not in _folded(village):
                continue
            skills = [s.title for s in snapshot.lessons.skills if s.id in row.passed]
            guided = [s.title for s in snapshot.lessons.skills if s.id in row.guided]
            rows.append(
                {
                    "user": row.user.id,
                    "note": row.note,
                    "household": row.user.household or "",
                    "name": name,
                    "village": village,
                    "basic": row.basic_five,
                    "passed": skills,
                    "guided": guided,
                }
            )
    rows.sort(key=lambda r: (sort_key(r["village"]), sort_key(r["name"])))
    return page_context(
        request,
        page="citizens",
        team=team,
        rows=rows[:MAX_LISTED],
        more=max(0, len(rows) - MAX_LISTED),
        search=search,
        notes=may_note(viewer_of(request)),
        done=request.query.get("ok", ""),
    )


async def note(request: web.Request) -> web.StreamResponse:
    """Write (or clear) the team's note on one of its citizens."""
    form = await request.post()
    found = await _citizen_in_view(request, str(form.get("user", "")))
    viewer = viewer_of(request)
    if found is None or not may_note(viewer):
        raise web.HTTPNotFound
    user_id, team = found
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        saved = await NoteRepo(session).write(
            user_id, team.id, str(form.get("text", ""))[:1000], viewer.user.id, services.clock()
        )
    raise web.HTTPSeeOther(f"/quan-ly/nguoi-dan?ok={'note' if saved else 'note_refused'}")


async def household(request: web.Request) -> web.StreamResponse:
    """Record (or clear) a citizen's household label: a short name, not an address or number."""
    form = await request.post()
    found = await _citizen_in_view(request, str(form.get("user", "")))
    if found is None:
        raise web.HTTPNotFound
    user_id, team = found
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        saved = await TeamRepo(session).set_household(user_id, str(form.get("household", "")))
    wanted = str(form.get("to", ""))
    where = f"to={team.id}&" if wanted == str(team.id) else ""
    raise web.HTTPSeeOther(f"/quan-ly/nguoi-dan?{where}ok={'household' if saved else 'refused'}")


def _folded(text: str) -> str:
    """Text as searched: no marks, no case (people often type without diacritics)."""
    return strip_marks(text).casefold()


# --- exports ---------------------------------------------------------------------------------


@aiohttp_jinja2.template("exports.html")
async def exports(request: web.Request) -> dict[str, Any]:
    """The downloads: citizens x skills, and the commune report per village."""
    return page_context(request, page="exports", team=_team(request))


async def export_csv(request: web.Request) -> web.StreamResponse:
    """Citizens x skills of one team in view (the chat's CSV, from bot.reports)."""
    team = _team(request)
    viewer = viewer_of(request)
    if team is None and not viewer.is_admin:
        team = viewer.own_team if viewer.role != Role.COMMUNE else None
    snapshot = request.app[SERVICES].store.current
    if team is None and viewer.role == Role.COMMUNE:
        data = b"".join(
            csv_bytes(r, snapshot) if i == 0 else csv_bytes(r, snapshot).split(b"\n", 1)[1]
            for i, r in enumerate(await _reports(request, None))
        )
    else:
        data = csv_bytes(await _report(request, team), snapshot)
    return _download(data, "nguoi-dan-ky-nang.csv")


def _download(data: bytes, name: str) -> web.Response:
    return web.Response(
        body=data,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- admins ----------------------------------------------------------------------------------


@aiohttp_jinja2.template("admin.html")
async def admin(request: web.Request) -> dict[str, Any]:
    """Content problems (the files checked now) and questions the bot could not answer."""
    if not viewer_of(request).is_admin:
        raise web.HTTPNotFound
    services = request.app[SERVICES]
    problems: list[str] = []
    try:
        await _check(services.store.root)
    except ContentError as exc:
        problems = [str(p) for p in exc.problems]
    async with services.db.transaction() as session:
        logged = await AnswerRepo(session).unanswered(
            since=services.clock() - timedelta(days=QUESTION_VIEW_DAYS), limit=100
        )
    items = [{"text": q.text, "at": q.created_at} for q in logged]
    return page_context(request, page="admin", team=None, problems=problems, unanswered=items)


async def _check(root: Any) -> None:
    import asyncio

    await asyncio.to_thread(load_snapshot, root)


def routes() -> list[web.RouteDef]:
    """Every dashboard route (relative to the /quan-ly/ sub-application)."""
    return [
        web.get("/vao", login_page),
        web.post("/vao", login),
        web.post("/thoat", logout),
        web.get("/", overview),
        web.get("/can-giup", needs_help),
        web.post("/can-giup/huong-dan", guide),
        web.post("/can-giup/nhan-tin", message),
        web.get("/cau-hoi", questions),
        web.post("/cau-hoi/tra-loi", answer),
        web.get("/nguoi-dan", citizens),
        web.post("/nguoi-dan", citizens),
        web.post("/nguoi-dan/ghi-chu", note),
        web.post("/nguoi-dan/ho", household),
        web.get("/xuat", exports),
        web.get("/xuat/nguoi-dan.csv", export_csv),
        web.get("/quan-tri", admin),
    ]
