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

from dataclasses import dataclass, replace
from datetime import datetime

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
from bot.core.context import Context
from bot.core.events import TextMessage
from bot.core.flows import Flow
from bot.core.replies import Button, Reply
from bot.core.router import STAFF, Router
from handlers.menu import menu_button
from handlers.payloads import (
    BroadcastAt,
    BroadcastAudience,
    BroadcastCancel,
    BroadcastDraft,
    BroadcastGroup,
    BroadcastKind,
    BroadcastLesson,
    BroadcastNew,
    BroadcastSend,
    BroadcastStop,
    BroadcastTeam,
)
from handlers.scope import ALL, every_team, own_team, team_by_id, team_scope
from storage.models import Role, Team
from storage.models.broadcasts import (
    ACTIVE,
    DRAFT,
    KIND_ANNOUNCEMENT,
    KIND_LESSON,
    SENT,
)
from storage.repos.broadcasts import Audience, BroadcastRepo

router = Router("broadcasts")

MAX_TEAM_BUTTONS = 8


@dataclass
class Draft:
    """The broadcast being composed: the step reached and what was chosen so far."""

    step: str  # team | kind | text | group | lesson | audience | preview | time
    team: int | None = None  # None: every citizen (admins)
    kind: str | None = None
    skill: str | None = None
    text: str | None = None
    only_missing: bool = False
    at: str | None = None  # ISO time to send at; None: now


FLOW = router.flow(Flow("broadcast", Draft))


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


def _cancel_button(ctx: Context) -> Button:
    return ctx.button("broadcast.compose.cancel", BroadcastCancel())


async def _allowed(ctx: Context, team_id: int | None) -> bool:
    """Admins send to any team or to everyone; members and leads only to their own team."""
    wanted = team_id if team_id is not None else ALL
    return await team_scope(ctx, wanted, say=False) is not None


def _team_name(team: Team | None) -> str | None:
    return team.name if team is not None else None


@router.button(BroadcastNew, roles=STAFF)
@router.command("broadcast", roles=STAFF)
async def compose(ctx: Context, _: BroadcastNew | None = None) -> None:
    """Start composing: admins choose the team; members and leads use their own."""
    if ctx.user.role == Role.ADMIN:
        teams = await every_team(ctx)
        buttons = [ctx.labelled(t.name, BroadcastTeam(t.id)) for t in teams[:MAX_TEAM_BUTTONS]]
        buttons.append(ctx.button("broadcast.compose.all_teams", BroadcastTeam(None)))
        ctx.enter(FLOW, Draft(step="team"))
        key = "broadcast.compose.pick_team_more" if len(teams) > MAX_TEAM_BUTTONS else None
        ctx.say(key or "broadcast.compose.pick_team", *buttons)
        return
    team = await own_team(ctx)
    if team is None:
        ctx.say("broadcast.compose.no_team", menu_button(ctx))
        return
    await _choose_kind(ctx, team)


async def _choose_kind(ctx: Context, team: Team | None) -> None:
    team_id = team.id if team else None
    ctx.enter(FLOW, Draft(step="kind", team=team_id))
    audience = team.name if team else ctx.t("broadcast.compose.everyone")
    buttons = [
        ctx.button("broadcast.compose.lesson", BroadcastKind("lesson")),
        ctx.button("broadcast.compose.announcement", BroadcastKind("text")),
    ]
    kept = await BroadcastRepo(ctx.session).draft_of(team_id, ctx.user.id)
    if kept is not None:
        title = kept.title[:40]
        buttons.insert(
            0, ctx.button("broadcast.compose.draft_button", BroadcastDraft(kept.id), title=title)
        )
    buttons.append(_cancel_button(ctx))
    ctx.say("broadcast.compose.what", *buttons, audience=audience)


@router.button(BroadcastDraft, roles=STAFF)
async def open_draft(ctx: Context, pressed: BroadcastDraft) -> None:
    """The announcement kept earlier: preview it again (recipients counted now)."""
    found = await _draft(ctx, "kind")
    kept = await BroadcastRepo(ctx.session).get(pressed.draft)
    if (
        found is None
        or kept is None
        or kept.status != DRAFT
        or kept.created_by != ctx.user.id
        or kept.team_id != found[0].team
    ):
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    draft = replace(found[0], step="text")
    await _preview(ctx, replace(draft, kind=KIND_ANNOUNCEMENT, text=kept.body, skill=None))


@router.button(BroadcastTeam, roles=STAFF)
async def pick_team(ctx: Context, pressed: BroadcastTeam) -> None:
    """An admin chose a team (or everyone)."""
    if ctx.flow_data(FLOW) is None:
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    team = await team_by_id(ctx, pressed.team)
    if (pressed.team is not None and team is None) or not await _allowed(
        ctx, team.id if team else None
    ):
        ctx.say("broadcast.compose.forbidden", menu_button(ctx))
        return
    await _choose_kind(ctx, team)


async def _draft(ctx: Context, *steps: str) -> tuple[Draft, Team | None] | None:
    """The draft at one of ``steps`` and its team, if this user may still send to it."""
    draft = ctx.flow_data(FLOW)
    if draft is None or draft.step not in steps:
        return None
    team = await team_by_id(ctx, draft.team)
    if draft.team is not None and team is None:
        return None
    return (draft, team) if await _allowed(ctx, draft.team) else None


@router.button(BroadcastKind, roles=STAFF)
async def pick_kind(ctx: Context, pressed: BroadcastKind) -> None:
    """A lesson (choose its group) or an announcement (type it)."""
    found = await _draft(ctx, "kind")
    if found is None:
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    draft = found[0]
    if pressed.kind == "text":
        ctx.enter(FLOW, replace(draft, step="text"))
        ctx.say("broadcast.compose.write", _cancel_button(ctx), max=MAX_ANNOUNCEMENT)
        return
    ctx.enter(FLOW, replace(draft, step="group"))
    groups = [g for g in ctx.content.groups if ctx.content.lessons.by_group(g.id)]
    buttons = [ctx.labelled(g.title, BroadcastGroup(g.id)) for g in groups]
    ctx.say("broadcast.compose.pick_group", *buttons)


@router.button(BroadcastGroup, roles=STAFF)
async def pick_group(ctx: Context, pressed: BroadcastGroup) -> None:
    """The lessons of one group."""
    found = await _draft(ctx, "group", "lesson")
    skills = ctx.content.lessons.by_group(pressed.group) if pressed.group else ()
    if found is None or not skills:
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    ctx.enter(FLOW, replace(found[0], step="lesson"))
    buttons = [ctx.labelled(s.title, BroadcastLesson(s.id)) for s in skills]
    ctx.say("broadcast.compose.pick_lesson", *buttons)


@router.button(BroadcastLesson, roles=STAFF)
async def pick_lesson(ctx: Context, pressed: BroadcastLesson) -> None:
    """The lesson is chosen: now the audience."""
    found = await _draft(ctx, "lesson")
    skill = ctx.content.lessons.get(pressed.skill) if pressed.skill else None
    if found is None or skill is None:
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    ctx.enter(FLOW, replace(found[0], step="audience", kind=KIND_LESSON, skill=skill.id))
    ctx.say(
        "broadcast.compose.audience",
        ctx.button("broadcast.compose.audience_all", BroadcastAudience("all")),
        ctx.button("broadcast.compose.audience_missing", BroadcastAudience("missing")),
        _cancel_button(ctx),
        title=skill.title,
    )


@router.button(BroadcastAudience, roles=STAFF)
async def pick_audience(ctx: Context, pressed: BroadcastAudience) -> None:
    """Everyone, or only those who have not passed: then the preview."""
    found = await _draft(ctx, "audience")
    if found is None:
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    await _preview(ctx, replace(found[0], only_missing=pressed.which == "missing"))


async def _typing(ctx: Context) -> bool:
    """Whether the draft waits for typed text: the announcement (still allowed), or a time."""
    draft = ctx.flow_data(FLOW)
    if draft is None or draft.step not in ("text", "time"):
        return False
    return draft.step == "time" or await _draft(ctx, "text") is not None


@router.text(flow=FLOW, roles=STAFF, when=_typing)
async def typed(ctx: Context) -> None:
    """The announcement text, or the time to send at."""
    draft = ctx.flow_data(FLOW)
    assert isinstance(ctx.event, TextMessage) and draft is not None
    text = ctx.event.text.strip()
    if draft.step == "text":
        if len(text) > MAX_ANNOUNCEMENT:
            ctx.say("broadcast.compose.too_long", n=len(text), max=MAX_ANNOUNCEMENT)
            return
        if len(text) < 5:
            ctx.say("broadcast.compose.too_short", _cancel_button(ctx))
            return
        draft = replace(draft, kind=KIND_ANNOUNCEMENT, text=text, only_missing=False, skill=None)
        await _preview(ctx, draft)
        return
    tz = _quiet(ctx).tz
    now = ctx.services.clock()
    at = parse_when(text, now, tz)
    if at is None:
        ctx.say("broadcast.compose.bad_time", _cancel_button(ctx))
        return
    if at < now:
        ctx.say("broadcast.compose.past_time", _cancel_button(ctx))
        return
    await _preview(ctx, replace(draft, at=at.isoformat()))


def _audience(draft: Draft) -> Audience:
    return Audience(team_id=draft.team, skill_id=draft.skill, only_missing=draft.only_missing)


async def _body(ctx: Context, draft: Draft, team: Team | None) -> tuple[str, str] | None:
    """The title and text of what is being composed."""
    if draft.kind == KIND_LESSON:
        skill = ctx.content.lessons.get(str(draft.skill))
        if skill is None:
            return None
        return skill.title, lesson_body(ctx.content.messages, skill, _team_name(team))
    text = draft.text or ""
    if not text:
        return None
    return title_of(text), announcement_body(ctx.content.messages, text, _team_name(team))


def _when(ctx: Context, draft: Draft) -> datetime:
    return datetime.fromisoformat(draft.at) if draft.at else ctx.services.clock()


def _when_text(ctx: Context, draft: Draft, at: datetime) -> str:
    quiet = _quiet(ctx)
    if quiet.active(at):
        start = local_label(quiet.ends(at), quiet.tz)
        return ctx.t("broadcast.compose.when_quiet", quiet=quiet.label, at=start)
    if draft.at:
        return ctx.t("broadcast.compose.when_at", at=local_label(at, quiet.tz))
    return ctx.t("broadcast.compose.when_now")


async def _preview(ctx: Context, draft: Draft) -> None:
    """The exact message, how many will get it, when; then send, schedule or cancel."""
    ctx.enter(FLOW, draft)
    found = await _draft(ctx, draft.step)
    made = await _body(ctx, draft, found[1]) if found is not None else None
    if made is None:
        ctx.leave()
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    _title, body = made
    repo = BroadcastRepo(ctx.session)
    count = await repo.count(_audience(draft))
    if count.reachable == 0:
        ctx.leave()
        if draft.kind == KIND_ANNOUNCEMENT and draft.text:  # typed: kept, not thrown away
            title = title_of(draft.text)
            now = ctx.services.clock()
            await repo.keep_draft(
                draft.team, draft.text, title=title, created_by=ctx.user.id, now=now
            )
            ctx.say("broadcast.compose.kept", menu_button(ctx))
            return
        ctx.say("broadcast.compose.empty", menu_button(ctx))
        return
    skipped = count.total - count.reachable
    ctx.enter(FLOW, replace(draft, step="preview"))
    ctx.say("broadcast.compose.preview_head")
    ctx.send(Reply(text=body))
    ctx.send(
        Reply.with_buttons(
            "\n".join(
                [
                    ctx.t("broadcast.compose.count", n=count.reachable),
                    *([ctx.t("broadcast.compose.count_skipped", n=skipped)] if skipped else []),
                    _when_text(ctx, draft, _when(ctx, draft)),
                ]
            ),
            [
                ctx.button("broadcast.compose.send", BroadcastSend()),
                ctx.button("broadcast.compose.schedule", BroadcastAt()),
                _cancel_button(ctx),
            ],
        )
    )


@router.button(BroadcastAt, roles=STAFF)
async def ask_time(ctx: Context, _: BroadcastAt) -> None:
    """Ask when to send."""
    found = await _draft(ctx, "preview")
    if found is None:
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    ctx.enter(FLOW, replace(found[0], step="time"))
    ctx.say("broadcast.compose.ask_time", _cancel_button(ctx))


@router.button(BroadcastSend, roles=STAFF)
async def confirm(ctx: Context, _: BroadcastSend) -> None:
    """Create the broadcast (once: a second press finds the flow over)."""
    found = await _draft(ctx, "preview")
    if found is None:
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    draft, team = found
    made = await _body(ctx, draft, team)
    if made is None:
        ctx.leave()
        ctx.say("broadcast.compose.expired", menu_button(ctx))
        return
    title, body = made
    repo = BroadcastRepo(ctx.session)
    audience = _audience(draft)
    kind = str(draft.kind)
    at = _when(ctx, draft)
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
    if draft.kind == KIND_ANNOUNCEMENT:
        await repo.drop_drafts(draft.team, ctx.user.id)  # the kept copy, if any, is sent now
    ctx.leave()
    ctx.say(
        "broadcast.compose.created",
        ctx.button("broadcast.stop.button", BroadcastStop(broadcast.id)),
        menu_button(ctx),
        id=broadcast.id,
        n=tally.get("pending", 0),
        when=_when_text(ctx, draft, at),
    )


@router.button(BroadcastCancel, roles=STAFF)
async def cancel(ctx: Context, _: BroadcastCancel) -> None:
    """Drop the draft."""
    if ctx.in_flow(FLOW):
        ctx.leave()
    ctx.say("broadcast.compose.cancelled", menu_button(ctx))


@router.button(BroadcastStop, roles=STAFF)
async def stop_broadcast(ctx: Context, pressed: BroadcastStop) -> None:
    """ "Dừng gửi": how many are still waiting, then (sure) the rest is dropped; those being
    sent finish (``BroadcastRepo.cancel``). Only for staff allowed to send to its audience."""
    repo = BroadcastRepo(ctx.session)
    broadcast = await repo.get(pressed.broadcast)
    if broadcast is None or broadcast.status == DRAFT:
        ctx.say("broadcast.stop.over", menu_button(ctx))
        return
    if not await _allowed(ctx, broadcast.team_id):
        ctx.say("broadcast.compose.forbidden", menu_button(ctx))
        return
    if broadcast.status != ACTIVE:
        ctx.say("broadcast.stop.over", menu_button(ctx))
        return
    if pressed.step != "sure":
        tally = await repo.tally(broadcast.id)
        sure = ctx.button("broadcast.stop.sure", BroadcastStop(broadcast.id, "sure"))
        ctx.say(
            "broadcast.stop.ask",
            sure,
            menu_button(ctx),
            id=broadcast.id,
            sent=tally.get(SENT, 0),
            waiting=droppable(tally),
        )
        return
    if not await repo.cancel(broadcast.id, ctx.services.clock()):
        ctx.say("broadcast.stop.over", menu_button(ctx))
        return
    counts = tally_lines(ctx.content.messages, await repo.tally(broadcast.id))
    ctx.say("broadcast.stop.done", menu_button(ctx), id=broadcast.id, tally=counts)


@router.command("stop", flow=FLOW, roles=STAFF)
async def stop_compose(ctx: Context) -> None:
    """ "dừng" while composing drops the draft (other flows handle their own "dừng")."""
    ctx.leave()
    ctx.say("broadcast.compose.cancelled", menu_button(ctx))


@router.command("broadcasts", roles=STAFF)
async def recent(ctx: Context) -> None:
    """The last broadcasts of the member's team (all for admins), with their counts."""
    team_id = None
    if ctx.user.role != Role.ADMIN:
        team = await own_team(ctx)
        if team is None:
            ctx.say("broadcast.compose.no_team", menu_button(ctx))
            return
        team_id = team.id
    repo = BroadcastRepo(ctx.session)
    items = await repo.recent(5, team_id=team_id)
    if not items:
        ctx.say("broadcast.list_empty", ctx.button("broadcast.compose.new", BroadcastNew()))
        return
    tz = _quiet(ctx).tz
    lines = [ctx.t("broadcast.list_head")]
    stops = [
        ctx.button("broadcast.stop.button_n", BroadcastStop(b.id), id=b.id)
        for b in items
        if b.status == ACTIVE
    ]
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
            "\n".join(lines),
            [*stops, ctx.button("broadcast.compose.new", BroadcastNew()), menu_button(ctx)],
        )
    )
