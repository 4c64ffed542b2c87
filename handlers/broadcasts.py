"""Broadcasts in the chat: team members push a lesson or a short announcement to their village,
and any citizen stops (or resumes) receiving them.

Composing (flow ``broadcast``, members and leads for their own team, admins for any team or all
citizens): team -> a lesson (group, then skill) or an announcement -> audience (everyone, or
only those who have not passed the skill) -> preview with the recipient count -> send now or
at a chosen time. The team is checked again on confirmation, so a forged payload cannot reach
another team. The worker (``bot/broadcast/worker.py``) does the sending.

The opt-out and opt-in phrases (``unsubscribe`` / ``subscribe`` in content/intents/broadcasts.yaml)
are intents, resolved before any flow's text, so they work in the middle of a lesson or a quiz;
the reply has no buttons so the quiz's own keys stay valid.
"""

from __future__ import annotations

from datetime import datetime

from bot.broadcast.compose import (
    MAX_ANNOUNCEMENT,
    announcement_body,
    lesson_body,
    local_label,
    tally_lines,
    title_of,
)
from bot.broadcast.timing import QuietHours, parse_when
from bot.core.context import Context
from bot.core.events import ButtonPress, TextMessage
from bot.core.replies import Button, Reply
from bot.core.router import STAFF, Router
from handlers.menu import menu_button
from storage.models import Team
from storage.models.broadcasts import KIND_ANNOUNCEMENT, KIND_LESSON
from storage.repos.broadcasts import Audience, BroadcastRepo
from storage.repos.teams import TeamRepo

router = Router("broadcasts")

FLOW = "broadcast"
P = "bcast:"
MAX_TEAM_BUTTONS = 8


# --- opt-out, for everyone -------------------------------------------------------------------


@router.command("unsubscribe")
async def unsubscribe(ctx: Context) -> None:
    """ "dừng nhận tin": no more broadcasts; says how to resume."""
    changed = await BroadcastRepo(ctx.session).opt_out(ctx.user.id, ctx.services.clock())
    ctx.say("broadcast.opt_out" if changed else "broadcast.opt_out_again")


@router.command("subscribe")
async def subscribe(ctx: Context) -> None:
    """ "nhận tin": receive broadcasts again."""
    changed = await BroadcastRepo(ctx.session).opt_in(ctx.user.id)
    ctx.say("broadcast.opt_in" if changed else "broadcast.opt_in_already")


# --- composing --------------------------------------------------------------------------------


def _quiet(ctx: Context) -> QuietHours:
    c = ctx.services.config.broadcast
    return QuietHours(c.quiet_start, c.quiet_end, c.timezone)


def _arg(ctx: Context, prefix: str) -> str | None:
    if not isinstance(ctx.event, ButtonPress) or not ctx.event.payload.startswith(prefix):
        return None
    return ctx.event.payload[len(prefix) :] or None


def _cancel_button(ctx: Context) -> Button:
    return ctx.button("broadcast.compose.cancel", f"{P}cancel")


async def _own_team(ctx: Context) -> Team | None:
    return await TeamRepo(ctx.session).team_of(ctx.user.id)


async def _allowed(ctx: Context, team_id: int | None) -> bool:
    """Admins send to any team or to everyone; members and leads only to their own team."""
    if ctx.user.role == "admin":
        return team_id is None or await TeamRepo(ctx.session).get(team_id) is not None
    own = await _own_team(ctx)
    return own is not None and team_id == own.id


def _team_name(team: Team | None) -> str | None:
    return team.name if team is not None else None


@router.command("broadcast", roles=STAFF)
@router.button(f"{P}new", roles=STAFF)
async def compose(ctx: Context) -> None:
    """Start composing: admins choose the team; members and leads use their own."""
    if ctx.user.role == "admin":
        teams = await TeamRepo(ctx.session).all()
        buttons = [
            Button(label=t.name, payload=f"{P}team:{t.id}") for t in teams[:MAX_TEAM_BUTTONS]
        ]
        buttons.append(ctx.button("broadcast.compose.all_teams", f"{P}team:all"))
        ctx.enter(FLOW, {"step": "team"})
        key = "broadcast.compose.pick_team_more" if len(teams) > MAX_TEAM_BUTTONS else None
        ctx.send(Reply.with_buttons(ctx.t(key or "broadcast.compose.pick_team"), buttons))
        return
    team = await _own_team(ctx)
    if team is None:
        ctx.say("broadcast.compose.no_team", menu_button(ctx))
        return
    await _choose_kind(ctx, team)


async def _choose_kind(ctx: Context, team: Team | None) -> None:
    ctx.enter(FLOW, {"step": "kind", "team": team.id if team else None})
    audience = team.name if team else ctx.t("broadcast.compose.everyone")
    ctx.send(
        Reply.with_buttons(
            ctx.t("broadcast.compose.what", audience=audience),
            [
                ctx.button("broadcast.compose.lesson", f"{P}kind:lesson"),
                ctx.button("broadcast.compose.announcement", f"{P}kind:text"),
                _cancel_button(ctx),
            ],
        )
    )


@router.button(f"{P}team:", roles=STAFF)
async def pick_team(ctx: Context) -> None:
    """An admin chose a team (or everyone)."""
    arg = _arg(ctx, f"{P}team:")
    if ctx.flow != FLOW or arg is None:
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    team = await TeamRepo(ctx.session).get(int(arg)) if arg.isdigit() and len(arg) < 12 else None
    if (arg != "all" and team is None) or not await _allowed(ctx, team.id if team else None):
        ctx.say("broadcast.compose.forbidden", menu_button(ctx))
        return
    await _choose_kind(ctx, team)


async def _team_in_flow(ctx: Context) -> tuple[bool, Team | None]:
    """The team being composed for, and whether this user may still send to it."""
    if ctx.flow != FLOW:
        return False, None
    team_id = ctx.data.get("team")
    team = await TeamRepo(ctx.session).get(team_id) if isinstance(team_id, int) else None
    if team_id is not None and team is None:
        return False, None
    return await _allowed(ctx, team_id if isinstance(team_id, int) else None), team


@router.button(f"{P}kind:", roles=STAFF)
async def pick_kind(ctx: Context) -> None:
    """A lesson (choose its group) or an announcement (type it)."""
    ok, _team = await _team_in_flow(ctx)
    kind = _arg(ctx, f"{P}kind:")
    if not ok or ctx.data.get("step") != "kind" or kind not in ("lesson", "text"):
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    if kind == "text":
        ctx.update(step="text")
        ctx.say("broadcast.compose.write", _cancel_button(ctx), max=MAX_ANNOUNCEMENT)
        return
    ctx.update(step="group")
    groups = [g for g in ctx.content.groups if ctx.content.lessons.by_group(g.id)]
    buttons = [Button(label=g.title, payload=f"{P}group:{g.id}") for g in groups]
    ctx.send(Reply.with_buttons(ctx.t("broadcast.compose.pick_group"), [*buttons]))


@router.button(f"{P}group:", roles=STAFF)
async def pick_group(ctx: Context) -> None:
    """The lessons of one group."""
    ok, _team = await _team_in_flow(ctx)
    gid = _arg(ctx, f"{P}group:")
    skills = ctx.content.lessons.by_group(gid) if gid else ()
    if not ok or ctx.data.get("step") not in ("group", "lesson") or not skills:
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    ctx.update(step="lesson")
    buttons = [Button(label=s.title, payload=f"{P}lesson:{s.id}") for s in skills]
    ctx.send(Reply.with_buttons(ctx.t("broadcast.compose.pick_lesson"), buttons))


@router.button(f"{P}lesson:", roles=STAFF)
async def pick_lesson(ctx: Context) -> None:
    """The lesson is chosen: now the audience."""
    ok, _team = await _team_in_flow(ctx)
    skill_id = _arg(ctx, f"{P}lesson:")
    skill = ctx.content.lessons.get(skill_id) if skill_id else None
    if not ok or ctx.data.get("step") != "lesson" or skill is None:
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    ctx.update(step="audience", kind=KIND_LESSON, skill=skill.id)
    ctx.send(
        Reply.with_buttons(
            ctx.t("broadcast.compose.audience", title=skill.title),
            [
                ctx.button("broadcast.compose.audience_all", f"{P}aud:all"),
                ctx.button("broadcast.compose.audience_missing", f"{P}aud:missing"),
                _cancel_button(ctx),
            ],
        )
    )


@router.button(f"{P}aud:", roles=STAFF)
async def pick_audience(ctx: Context) -> None:
    """Everyone, or only those who have not passed: then the preview."""
    ok, _team = await _team_in_flow(ctx)
    which = _arg(ctx, f"{P}aud:")
    if not ok or ctx.data.get("step") != "audience" or which not in ("all", "missing"):
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    ctx.update(only_missing=which == "missing")
    await _preview(ctx)


@router.text(flow=FLOW, roles=STAFF)
async def typed(ctx: Context) -> bool | None:
    """The announcement text, or the time to send at."""
    assert isinstance(ctx.event, TextMessage)
    step = ctx.data.get("step")
    text = ctx.event.text.strip()
    if step == "text":
        ok, _team = await _team_in_flow(ctx)
        if not ok:
            return False
        if len(text) > MAX_ANNOUNCEMENT:
            ctx.say("broadcast.compose.too_long", n=len(text), max=MAX_ANNOUNCEMENT)
            return None
        if len(text) < 5:
            ctx.say("broadcast.compose.too_short", _cancel_button(ctx))
            return None
        ctx.update(kind=KIND_ANNOUNCEMENT, text=text, only_missing=False, skill=None)
        await _preview(ctx)
        return None
    if step == "time":
        tz = _quiet(ctx).tz
        now = ctx.services.clock()
        at = parse_when(text, now, tz)
        if at is None:
            ctx.say("broadcast.compose.bad_time", _cancel_button(ctx))
            return None
        if at < now:
            ctx.say("broadcast.compose.past_time", _cancel_button(ctx))
            return None
        ctx.update(at=at.isoformat())
        await _preview(ctx)
        return None
    return False


def _audience(ctx: Context) -> Audience:
    data = ctx.data
    return Audience(
        team_id=data.get("team"),
        skill_id=data.get("skill"),
        only_missing=bool(data.get("only_missing")),
    )


async def _body(ctx: Context, team: Team | None) -> tuple[str, str] | None:
    """The title and text of what is being composed."""
    if ctx.data.get("kind") == KIND_LESSON:
        skill = ctx.content.lessons.get(str(ctx.data.get("skill")))
        if skill is None:
            return None
        return skill.title, lesson_body(ctx.content.messages, skill, _team_name(team))
    text = str(ctx.data.get("text") or "")
    if not text:
        return None
    return title_of(text), announcement_body(ctx.content.messages, text, _team_name(team))


def _when(ctx: Context) -> datetime:
    raw = ctx.data.get("at")
    return datetime.fromisoformat(raw) if isinstance(raw, str) else ctx.services.clock()


def _when_text(ctx: Context, at: datetime) -> str:
    quiet = _quiet(ctx)
    if quiet.active(at):
        start = local_label(quiet.ends(at), quiet.tz)
        return ctx.t("broadcast.compose.when_quiet", quiet=quiet.label, at=start)
    if ctx.data.get("at"):
        return ctx.t("broadcast.compose.when_at", at=local_label(at, quiet.tz))
    return ctx.t("broadcast.compose.when_now")


async def _preview(ctx: Context) -> None:
    """The exact message, how many will get it, when; then send, schedule or cancel."""
    ok, team = await _team_in_flow(ctx)
    made = await _body(ctx, team) if ok else None
    if made is None:
        ctx.leave()
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    _title, body = made
    count = await BroadcastRepo(ctx.session).count(_audience(ctx))
    if count.reachable == 0:
        ctx.leave()
        ctx.say("broadcast.compose.empty", menu_button(ctx))
        return
    skipped = count.total - count.reachable
    ctx.update(step="preview")
    ctx.send(Reply(text=ctx.t("broadcast.compose.preview_head")))
    ctx.send(Reply(text=body))
    ctx.send(
        Reply.with_buttons(
            "\n".join(
                [
                    ctx.t("broadcast.compose.count", n=count.reachable),
                    *([ctx.t("broadcast.compose.count_skipped", n=skipped)] if skipped else []),
                    _when_text(ctx, _when(ctx)),
                ]
            ),
            [
                ctx.button("broadcast.compose.send", f"{P}send"),
                ctx.button("broadcast.compose.schedule", f"{P}at"),
                _cancel_button(ctx),
            ],
        )
    )


@router.button(f"{P}at", roles=STAFF)
async def ask_time(ctx: Context) -> None:
    """Ask when to send."""
    ok, _team = await _team_in_flow(ctx)
    if not ok or ctx.data.get("step") != "preview":
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    ctx.update(step="time")
    ctx.say("broadcast.compose.ask_time", _cancel_button(ctx))


@router.button(f"{P}send", roles=STAFF)
async def confirm(ctx: Context) -> None:
    """Create the broadcast (once: a second press finds the flow over)."""
    ok, team = await _team_in_flow(ctx)
    if not ok or ctx.data.get("step") != "preview":
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    made = await _body(ctx, team)
    if made is None:
        ctx.leave()
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    title, body = made
    repo = BroadcastRepo(ctx.session)
    audience = _audience(ctx)
    kind = str(ctx.data.get("kind"))
    at = _when(ctx)
    broadcast = await repo.create(
        audience,
        kind=kind,
        title=title,
        body=body,
        scheduled_at=at,
        created_by=ctx.user.id,
        now=ctx.services.clock(),
    )
    tally = await repo.tally(broadcast.id)
    ctx.leave()
    ctx.say(
        "broadcast.compose.created",
        menu_button(ctx),
        id=broadcast.id,
        n=tally.get("pending", 0),
        when=_when_text(ctx, at),
    )


@router.button(f"{P}cancel", roles=STAFF)
async def cancel(ctx: Context) -> None:
    """Drop the draft."""
    if ctx.flow == FLOW:
        ctx.leave()
    ctx.say("broadcast.compose.cancelled", menu_button(ctx))


@router.command("stop", roles=STAFF)
async def stop_compose(ctx: Context) -> bool | None:
    """ "dừng" while composing drops the draft (other flows handle their own "dừng")."""
    if ctx.flow != FLOW:
        return False
    ctx.leave()
    ctx.say("broadcast.compose.cancelled", menu_button(ctx))
    return None


@router.command("broadcasts", roles=STAFF)
async def recent(ctx: Context) -> None:
    """The last broadcasts of the member's team (all for admins), with their counts."""
    team_id = None
    if ctx.user.role != "admin":
        team = await _own_team(ctx)
        if team is None:
            ctx.say("broadcast.compose.no_team", menu_button(ctx))
            return
        team_id = team.id
    repo = BroadcastRepo(ctx.session)
    items = await repo.recent(5, team_id=team_id)
    if not items:
        ctx.say("broadcast.list_empty", ctx.button("broadcast.compose.new", f"{P}new"))
        return
    tz = _quiet(ctx).tz
    lines = [ctx.t("broadcast.list_head")]
    for b in items:
        tally = await repo.tally(b.id)
        lines.append(
            ctx.t(
                "broadcast.list_item",
                id=b.id,
                title=b.title,
                status=ctx.t(f"broadcast.status.{b.status}"),
                at=local_label(b.scheduled_at, tz),
            )
        )
        lines.append(tally_lines(ctx.content.messages, tally))
    ctx.send(
        Reply.with_buttons(
            "\n".join(lines), [ctx.button("broadcast.compose.new", f"{P}new"), menu_button(ctx)]
        )
    )
