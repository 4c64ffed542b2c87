"""The team tools: what members and leads see of their own team (admins: any team, or all).

A summary (citizens, how many reached the five basic skills, completions per skill), who is
stuck (a lesson left unfinished for ``teams.stuck_days`` days, or a failed quiz), recording
that a member guided a citizen through a skill in person, a progress chart (PNG), a CSV of
citizens x skills and the team's join code. The report itself is ``bot.reports`` (the CLI's
``trolyso report --team CODE`` prints the same).

Every ``fu:`` route is for staff only (``roles=STAFF``: invisible to citizens), and each handler
checks again (``handlers.scope.team_scope``) that the team in the payload is the user's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.core import files
from bot.core.context import Context
from bot.core.events import TextMessage
from bot.core.flows import Flow
from bot.core.replies import Button, Reply
from bot.core.router import STAFF, Router
from bot.core.text import fold
from bot.reports.build import Report, build_report, display_name
from bot.reports.chart import chart_png
from bot.reports.table import csv_bytes
from bot.reports.text import contact_lines, stuck_text, summary_text, team_title
from handlers.dashboard_link import dashboard_button
from handlers.menu import menu_button
from handlers.payloads import (
    AnswersUnanswered,
    BroadcastNew,
    CitizenCard,
    GuideCitizens,
    Guided,
    GuideSkills,
    TeamChart,
    TeamCode,
    TeamContact,
    TeamContactField,
    TeamCsv,
    TeamHome,
    TeamQueue,
    TeamStuck,
    TeamSummary,
)
from handlers.scope import ALL, Scope, team_scope
from storage.models import Role, User
from storage.repos.teams import ProgressRepo, QuestionRepo, TeamRepo
from storage.repos.users import UserRepo
from storage.repos.zalo_oa import ZaloOARepo

if TYPE_CHECKING:
    from bot.config import Config

router = Router("team_tools")

PAGE = 8  # citizens per page when choosing whom a member guided
MAX_STUCK = 15  # stuck citizens listed in the chat (the CSV has everyone)


def home_button(ctx: Context, scope: Scope) -> Button:
    """Back to the team tools of ``scope``."""
    return ctx.button("followup.home_button", TeamHome(scope.team_id))


async def _report(ctx: Context, scope: Scope) -> Report:
    return await build_report(
        ctx.session,
        ctx.content,
        scope.team,
        ctx.services.clock(),
        ctx.services.config.teams.stuck_days,
        notes=True,
    )


@router.button(TeamHome, roles=STAFF)
@router.command("team", roles=STAFF)  # citizens: "Liên hệ tổ" (handlers/teams.py)
async def home(ctx: Context, pressed: TeamHome | None = None) -> None:
    """The team tools; an admin without a team in the payload first picks one."""
    wanted = pressed.team if pressed is not None else None
    repo = TeamRepo(ctx.session)
    if ctx.user.role == Role.ADMIN and wanted is None:
        teams = await repo.all()
        buttons = [ctx.labelled(t.name, TeamHome(t.id)) for t in teams[:PAGE]]
        buttons.append(ctx.button("followup.all_teams", TeamHome(ALL)))
        buttons.append(ctx.button("followup.admin_queue", TeamQueue(ALL)))
        buttons.append(ctx.button("answers.unanswered_button", AnswersUnanswered()))
        buttons.append(dashboard_button(ctx))
        ctx.say("followup.admin_pick", *buttons, teams=len(teams))
        return
    scope = await team_scope(ctx, wanted)
    if scope is None:
        return
    questions = QuestionRepo(ctx.session)
    citizens = await repo.citizen_count(scope.team.id if scope.team else None)
    if scope.team is None:
        text = ctx.t(
            "followup.home_all", citizens=citizens, waiting=await questions.open_count(None)
        )
    else:
        text = ctx.t(
            "followup.home",
            team=scope.team.name,
            place=f"{scope.team.village}, {scope.team.commune}",
            citizens=citizens,
            waiting=await questions.open_count(scope.team.id),
        )
    t = scope.team_id
    buttons = [
        ctx.button("followup.summary_button", TeamSummary(t)),
        ctx.button("followup.stuck_button", TeamStuck(t)),
        ctx.button("followup.queue_button", TeamQueue(t)),
        ctx.button("followup.chart_button", TeamChart(t)),
        ctx.button("followup.csv_button", TeamCsv(t)),
    ]
    if scope.team is not None:
        buttons.insert(3, ctx.button("followup.guide_button", GuideCitizens(t, 0)))
        buttons.append(ctx.button("followup.code_button", TeamCode(t)))
        if ctx.user.role in (Role.LEAD, Role.ADMIN):
            buttons.append(ctx.button("teams.contact_edit_button", TeamContact(t)))
    buttons.append(ctx.button("followup.broadcast_button", BroadcastNew()))
    buttons.append(dashboard_button(ctx))
    buttons.append(menu_button(ctx))
    ctx.send(Reply.with_buttons(text, buttons))


@router.button(TeamSummary, roles=STAFF)
async def summary(ctx: Context, pressed: TeamSummary) -> None:
    """The team summary."""
    scope = await team_scope(ctx, pressed.team)
    if scope is None:
        return
    report = await _report(ctx, scope)
    ctx.send(Reply.with_buttons(summary_text(report, ctx.content), [home_button(ctx, scope)]))


@router.button(TeamStuck, roles=STAFF)
async def stuck(ctx: Context, pressed: TeamStuck) -> None:
    """Who needs help, with a button per person to record in-person guidance."""
    scope = await team_scope(ctx, pressed.team)
    if scope is None:
        return
    report = await _report(ctx, scope)
    days = ctx.services.config.teams.stuck_days
    buttons = []
    if scope.team is not None:
        carded: set[int] = set()
        for item in report.stuck[:PAGE]:
            if item.row.user.id not in carded:
                carded.add(item.row.user.id)
                buttons.append(
                    ctx.button(
                        "notes.card_button",
                        CitizenCard(scope.team_id, item.row.user.id),
                        name=display_name(item.row.user, ctx.content.messages)[:24],
                    )
                )
            buttons.append(
                ctx.button(
                    "followup.stuck_guided_button",
                    Guided(scope.team_id, item.row.user.id, item.skill.id),
                    name=display_name(item.row.user, ctx.content.messages)[:24],
                    skill=item.skill.title[:24],
                )
            )
    buttons.append(home_button(ctx, scope))
    text = stuck_text(report, ctx.content.messages, days, MAX_STUCK)
    unreachable = await out_of_zalo_window(ctx, scope.team_id)
    if unreachable:
        text = f"{text}\n\n{unreachable}"
    ctx.send(Reply.with_buttons(text, buttons))


async def out_of_zalo_window(ctx: Context, team_id: int | None) -> str:
    """Citizens on a Zalo OA who have not written in 7 days: the OA may not message them, so
    the team has to meet them ("cần gặp trực tiếp"). Empty when there are none."""
    now = ctx.services.clock()
    people = await ZaloOARepo(ctx.session).out_of_window(team_id, now - timedelta(days=7))
    if not people:
        return ""
    messages = ctx.content.messages
    lines = [messages("zalo_oa.out_of_window_title", count=len(people)).strip()]
    for user in people[:MAX_STUCK]:
        days = max(7, (now - user.last_seen).days)
        lines.append(
            messages("zalo_oa.out_of_window_line", name=display_name(user, messages), days=days)
        )
    if len(people) > MAX_STUCK:
        lines.append(messages("followup.stuck_more", count=len(people) - MAX_STUCK))
    return "\n".join(lines)


@router.button(GuideCitizens, roles=STAFF)
async def guide_pick_citizen(ctx: Context, pressed: GuideCitizens) -> None:
    """Choose the citizen a member guided in person (a page of the team's citizens)."""
    scope = await team_scope(ctx, pressed.team)
    if scope is None or scope.team is None:
        return
    citizens = await TeamRepo(ctx.session).citizens(scope.team.id)
    if not citizens:
        ctx.say("followup.guide_no_citizens", home_button(ctx, scope))
        return
    pages = (len(citizens) + PAGE - 1) // PAGE
    page = min(pressed.page, pages - 1)
    buttons = [
        ctx.labelled(display_name(u, ctx.content.messages)[:40], GuideSkills(scope.team.id, u.id))
        for u in citizens[page * PAGE : (page + 1) * PAGE]
    ]
    if page + 1 < pages:
        buttons.append(ctx.button("followup.guide_more", GuideCitizens(scope.team.id, page + 1)))
    buttons.append(home_button(ctx, scope))
    ctx.send(
        Reply.with_buttons(
            ctx.t("followup.guide_pick_citizen", page=page + 1, pages=pages), buttons
        )
    )


async def citizen_of(ctx: Context, scope: Scope, user_id: int) -> User | None:
    """The citizen named in a payload, only if they are a citizen of the scope's team."""
    if scope.team is None:
        return None
    user = await UserRepo(ctx.session).get(user_id)
    membership = await TeamRepo(ctx.session).membership(user_id)
    if user is None or user.role != Role.CITIZEN or membership is None:
        return None
    return user if membership.team_id == scope.team.id else None


@router.button(GuideSkills, roles=STAFF)
async def guide_pick_skill(ctx: Context, pressed: GuideSkills) -> None:
    """Choose the skill the citizen was taught in person."""
    scope = await team_scope(ctx, pressed.team)
    if scope is None or scope.team is None:
        return
    citizen = await citizen_of(ctx, scope, pressed.citizen)
    if citizen is None:
        ctx.say("followup.guide_gone", home_button(ctx, scope))
        return
    skills = sorted(ctx.content.lessons.skills, key=lambda s: (s.job == 0, s.job))
    buttons = [
        ctx.labelled(skill.title[:60], Guided(scope.team.id, citizen.id, skill.id))
        for skill in skills
    ]
    buttons.append(home_button(ctx, scope))
    name = display_name(citizen, ctx.content.messages)
    ctx.send(Reply.with_buttons(ctx.t("followup.guide_pick_skill", name=name), buttons))


@router.button(Guided, roles=STAFF)
async def guided(ctx: Context, pressed: Guided) -> None:
    """Record in-person guidance (distinct from a completion through the bot)."""
    scope = await team_scope(ctx, pressed.team)
    if scope is None or scope.team is None:
        return
    citizen = await citizen_of(ctx, scope, pressed.citizen)
    skill = ctx.content.lessons.get(pressed.skill)
    if citizen is None or skill is None:
        ctx.say("followup.guide_gone", home_button(ctx, scope))
        return
    new = await ProgressRepo(ctx.session).guide(
        citizen.id, skill.id, scope.team.id, ctx.user.id, ctx.services.clock()
    )
    name = display_name(citizen, ctx.content.messages)
    key = "followup.guided" if new else "followup.guided_already"
    ctx.say(key, home_button(ctx, scope), name=name, skill=skill.title)


async def _send_file(
    ctx: Context, scope: Scope, data: bytes, name: str, content_type: str, caption: str
) -> None:
    ref = await files.share(
        ctx.session,
        ctx.services.config,
        data,
        name,
        content_type,
        user_id=ctx.user.id,
        team_id=scope.team.id if scope.team else None,
    )
    ctx.send(Reply(text=caption, document=ref))
    ctx.say("menu.title", home_button(ctx, scope), menu_button(ctx))


def _file_stem(scope: Scope) -> str:
    return f"to-{scope.team.code}" if scope.team is not None else "tat-ca-cac-to"


@router.button(TeamChart, roles=STAFF)
async def chart(ctx: Context, pressed: TeamChart) -> None:
    """The progress chart as a PNG."""
    scope = await team_scope(ctx, pressed.team)
    if scope is None:
        return
    report = await _report(ctx, scope)
    png = chart_png(report, ctx.content, ctx.services.config)
    if not ctx.caps.buttons:  # text-only channels (Zalo): the summary, then the link
        ctx.send(Reply(text=summary_text(report, ctx.content)))
    await _send_file(
        ctx,
        scope,
        png,
        f"tien-do-{_file_stem(scope)}.png",
        "image/png",
        ctx.t("followup.chart_caption"),
    )


@router.button(TeamCsv, roles=STAFF)
async def export_csv(ctx: Context, pressed: TeamCsv) -> None:
    """Citizens x skills as a CSV file (a link on the web chat and on Zalo)."""
    scope = await team_scope(ctx, pressed.team)
    if scope is None:
        return
    report = await _report(ctx, scope)
    if not ctx.caps.buttons:  # text-only channels (Zalo): the summary, then the link
        ctx.send(Reply(text=summary_text(report, ctx.content)))
    caption = ctx.t(
        "followup.csv_caption",
        citizens=len(report.rows),
        team=team_title(scope.team, ctx.content.messages),
    )
    data = csv_bytes(report, ctx.content)
    await _send_file(
        ctx, scope, data, f"bao-cao-{_file_stem(scope)}.csv", "text/csv; charset=utf-8", caption
    )


def deep_link(config: Config, code: str) -> str | None:
    """The Telegram link that opens the bot and joins the team, when the bot's name is known."""
    bot = config.teams.telegram_bot.lstrip("@")
    return f"https://t.me/{bot}?start={code}" if bot else None


@router.button(TeamCode, roles=STAFF)
async def team_code(ctx: Context, pressed: TeamCode) -> None:
    """The team's join code (and Telegram link) to share with citizens."""
    if ctx.user.role == Role.ADMIN and pressed.team is None:
        await home(ctx, TeamHome())
        return
    scope = await team_scope(ctx, pressed.team)
    if scope is None or scope.team is None:
        return
    text = ctx.t("followup.code", team=scope.team.name, code=scope.team.code)
    link = deep_link(ctx.services.config, scope.team.code)
    if link:
        text += "\n" + ctx.t("followup.code_link", link=link)
    ctx.send(Reply.with_buttons(text, [home_button(ctx, scope)]))


# --- the team's contact (leads and admins) ----------------------------------------------------


@dataclass
class ContactEdit:
    """A lead typing one contact field of ``team``."""

    team: int
    field: str


CONTACT_FLOW = router.flow(Flow("team_contact", ContactEdit, keeps=()))


async def _contact_scope(ctx: Context, team_id: int) -> Scope | None:
    """The team whose contact this user may edit: a lead's own team, or any team (admins)."""
    if ctx.user.role not in (Role.LEAD, Role.ADMIN):
        ctx.say("teams.contact_lead_only", menu_button(ctx))
        return None
    scope = await team_scope(ctx, team_id)
    return scope if scope is not None and scope.team is not None else None


def _show_contact(ctx: Context, scope: Scope) -> None:
    assert scope.team is not None
    lines = contact_lines(scope.team, ctx.content.messages) or [ctx.t("teams.contact_empty")]
    t = scope.team_id
    fields = [
        ctx.button(f"teams.contact_field_{field}", TeamContactField(t, field))
        for field in ("phone", "place", "hours")
    ]
    text = ctx.t("teams.contact_edit", team=scope.team.name, lines="\n".join(lines))
    ctx.send(Reply.with_buttons(text, [*fields, home_button(ctx, scope)]))


@router.button(TeamContact, roles=STAFF)
async def contact(ctx: Context, pressed: TeamContact) -> None:
    """The team's contact as citizens see it, and which field to change."""
    scope = await _contact_scope(ctx, pressed.team)
    if scope is not None:
        _show_contact(ctx, scope)


@router.button(TeamContactField, roles=STAFF)
async def contact_field(ctx: Context, pressed: TeamContactField) -> None:
    """Ask for the new value of one field."""
    scope = await _contact_scope(ctx, pressed.team)
    if scope is None:
        return
    ctx.enter(CONTACT_FLOW, ContactEdit(team=scope.team_id, field=pressed.field))
    ctx.say(f"teams.contact_ask_{pressed.field}", home_button(ctx, scope))


def _editing(ctx: Context) -> bool:
    return ctx.flow_data(CONTACT_FLOW) is not None


@router.text(flow=CONTACT_FLOW, roles=STAFF, when=_editing)
async def typed_contact(ctx: Context) -> None:
    """The typed value: saved (or cleared with "xóa"), or asked again when refused."""
    data = ctx.flow_data(CONTACT_FLOW)
    assert isinstance(ctx.event, TextMessage) and data is not None
    ctx.leave()
    scope = await _contact_scope(ctx, data.team)
    if scope is None or scope.team is None:
        return
    text = ctx.event.text.strip()
    clear = {fold(word) for word in ctx.t("teams.contact_clear_words").split(",")}
    value = "" if fold(text) in clear else text
    if not await TeamRepo(ctx.session).set_contact(scope.team, data.field, value):
        ctx.enter(CONTACT_FLOW, data)
        key = "teams.contact_bad_phone" if data.field == "phone" else "teams.contact_too_long"
        ctx.say(key, home_button(ctx, scope))
        return
    ctx.say("teams.contact_saved")
    _show_contact(ctx, scope)
