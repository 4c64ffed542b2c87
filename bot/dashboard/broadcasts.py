"""The dashboard's broadcasts: compose (lesson or short text, audience, schedule), preview
with the recipient count, then create; and the list of recent broadcasts with their reports.

The message texts, the audience count, the delivery rows and the reports are those of the
chat's broadcasts (``bot.broadcast.compose``, ``storage.repos.broadcasts``); the worker sends
them. A broadcast goes to one team in view (admins: also every citizen). A scheduled or
running broadcast of a team in view can be stopped (``cancel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from bot.broadcast.compose import (
    MAX_ANNOUNCEMENT,
    announcement_body,
    droppable,
    lesson_body,
    local_label,
    tally_lines,
    title_of,
)
from bot.broadcast.timing import QuietHours, parse_when
from bot.dashboard.auth import SERVICES, viewer_of
from bot.dashboard.views import page_context
from storage.models import Broadcast, Team
from storage.models.broadcasts import (
    ACTIVE,
    DRAFT,
    KIND_ANNOUNCEMENT,
    KIND_LESSON,
    SENT,
)
from storage.repos.broadcasts import Audience, BroadcastRepo


@dataclass(frozen=True)
class Draft:
    """What the form holds."""

    team: Team | None
    kind: str
    skill: str
    text: str
    missing: bool
    when: str


def _quiet(request: web.Request) -> QuietHours:
    c = request.app[SERVICES].config.broadcast
    return QuietHours(c.quiet_start, c.quiet_end, c.timezone)


def _draft(request: web.Request, form: MultiDictProxy[Any]) -> Draft:
    viewer = viewer_of(request)
    wanted = str(form.get("to", ""))
    team = viewer.team(wanted or None)
    if team is None and not viewer.is_admin:
        raise web.HTTPBadRequest(text="team")
    kind = KIND_LESSON if form.get("kind") == KIND_LESSON else KIND_ANNOUNCEMENT
    return Draft(
        team=team,
        kind=kind,
        skill=str(form.get("skill", ""))[:64],
        text=str(form.get("text", "")).strip()[:MAX_ANNOUNCEMENT],
        missing=form.get("missing") == "1",
        when=str(form.get("when", "")).strip()[:40],
    )


def _made(request: web.Request, draft: Draft) -> tuple[str, str] | None:
    """The title and text of the broadcast, or None when something is missing."""
    snapshot = request.app[SERVICES].store.current
    name = draft.team.name if draft.team else None
    if draft.kind == KIND_LESSON:
        skill = snapshot.lessons.get(draft.skill)
        if skill is None:
            return None
        return skill.title, lesson_body(snapshot.messages, skill, name)
    if not draft.text:
        return None
    return title_of(draft.text), announcement_body(snapshot.messages, draft.text, name)


def _at(request: web.Request, draft: Draft) -> datetime | None:
    now = request.app[SERVICES].clock()
    if not draft.when:
        return now
    return parse_when(draft.when, now, _quiet(request).tz)


def _audience(draft: Draft) -> Audience:
    skill = draft.skill if draft.kind == KIND_LESSON else None
    return Audience(
        team_id=draft.team.id if draft.team else None,
        skill_id=skill,
        only_missing=draft.missing and skill is not None,
    )


@aiohttp_jinja2.template("broadcasts.html")
async def broadcasts(request: web.Request) -> dict[str, Any]:
    """Recent broadcasts of the teams in view with their reports, and the compose form."""
    viewer = viewer_of(request)
    team = viewer.team(request.query.get("to"))
    services = request.app[SERVICES]
    snapshot = services.store.current
    tz = _quiet(request).tz
    items = []
    async with services.db.transaction() as session:
        repo = BroadcastRepo(session)
        found = []
        if team is not None:
            found = await repo.recent(20, team.id)
        elif viewer.is_admin:
            found = await repo.recent(20)
        else:
            for t in viewer.teams:
                found += await repo.recent(20, t.id)
        for b in sorted(found, key=lambda b: -b.id)[:20]:
            tally = await repo.tally(b.id)
            items.append(
                {
                    "id": b.id,
                    "title": b.title,
                    "status": b.status,
                    "at": local_label(b.scheduled_at, tz),
                    "ended": local_label(b.finished_at, tz) if b.finished_at else "",
                    "report": tally_lines(snapshot.messages, tally).splitlines(),
                }
            )
    return page_context(
        request,
        page="broadcasts",
        team=team,
        items=items,
        skills=snapshot.lessons.skills,
        done=request.query.get("ok", ""),
    )


async def preview(request: web.Request) -> web.StreamResponse:
    """The exact message, how many citizens it reaches and when; then "send"."""
    form = await request.post()
    draft = _draft(request, form)
    made, at = _made(request, draft), _at(request, draft)
    problem = "missing" if made is None else "when" if at is None else ""
    count = None
    if not problem:
        async with request.app[SERVICES].db.transaction() as session:
            count = await BroadcastRepo(session).count(_audience(draft))
        if count.reachable == 0:
            problem = "empty"
    quiet = _quiet(request)
    context = page_context(
        request,
        page="broadcasts",
        team=draft.team,
        draft=draft,
        body=made[1] if made else "",
        count=count,
        problem=problem,
        at=local_label(at, quiet.tz) if at else "",
        quiet=quiet.label if at and quiet.active(at) else "",
    )
    return aiohttp_jinja2.render_template("broadcast_preview.html", request, context)


async def create(request: web.Request) -> web.StreamResponse:
    """Create the broadcast: one delivery row per citizen; the worker sends them."""
    form = await request.post()
    draft = _draft(request, form)
    made, at = _made(request, draft), _at(request, draft)
    if made is None or at is None:
        raise web.HTTPBadRequest(text="draft")
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        await BroadcastRepo(session).create(
            _audience(draft),
            kind=draft.kind,
            title=made[0],
            body=made[1],
            scheduled_at=at,
            created_by=viewer_of(request).user.id,
            now=services.clock(),
        )
    where = f"?to={draft.team.id}&ok=created" if draft.team else "?ok=created"
    raise web.HTTPSeeOther(f"/quan-ly/thong-bao{where}")


def _may_manage(request: web.Request, broadcast: Broadcast | None) -> bool:
    """Whether the viewer may stop ``broadcast``: one of their teams' (admins: any)."""
    viewer = viewer_of(request)
    if broadcast is None or broadcast.status == DRAFT:
        return False
    return viewer.is_admin or any(t.id == broadcast.team_id for t in viewer.teams)


async def cancel(request: web.Request) -> web.StreamResponse:
    """Stop a scheduled or running broadcast: first a confirmation page, then (``confirm``)
    the messages not yet sent are dropped; those being sent finish (``BroadcastRepo.cancel``)."""
    form = await request.post()
    wanted = str(form.get("broadcast", ""))
    if not wanted.isdigit():
        raise web.HTTPNotFound
    services = request.app[SERVICES]
    async with services.db.transaction() as session:
        repo = BroadcastRepo(session)
        broadcast = await repo.get(int(wanted))
        if not _may_manage(request, broadcast):
            raise web.HTTPNotFound
        assert broadcast is not None
        where = f"?to={broadcast.team_id}" if broadcast.team_id else ""
        if broadcast.status != ACTIVE:
            raise web.HTTPSeeOther(f"/quan-ly/thong-bao{where}{'&' if where else '?'}ok=over")
        if form.get("confirm") != "1":
            tally = await repo.tally(broadcast.id)
            waiting = droppable(tally)
            context = page_context(
                request,
                page="broadcasts",
                team=viewer_of(request).team(str(broadcast.team_id or "") or None),
                broadcast=broadcast,
                waiting=waiting,
                sent=tally.get(SENT, 0),
                at=local_label(broadcast.scheduled_at, _quiet(request).tz),
            )
            return aiohttp_jinja2.render_template("broadcast_cancel.html", request, context)
        stopped = await repo.cancel(broadcast.id, services.clock())
    done = "cancelled" if stopped else "over"
    raise web.HTTPSeeOther(f"/quan-ly/thong-bao{where}{'&' if where else '?'}ok={done}")


def routes() -> list[web.RouteDef]:
    """The broadcast routes."""
    return [
        web.get("/thong-bao", broadcasts),
        web.post("/thong-bao/xem-truoc", preview),
        web.post("/thong-bao/gui", create),
        web.post("/thong-bao/huy", cancel),
    ]
