"""The team tools: what members and leads see of their own team (admins: any team, or all).

A summary (citizens, how many reached the five basic skills, completions per skill), who is
stuck (a lesson left unfinished for ``teams.stuck_days`` days, or a failed quiz), recording
that a member guided a citizen through a skill in person, a progress chart (PNG), a CSV of
citizens x skills and the team's join code. The report itself is ``bot.reports`` (the CLI's
``trolyso report --team CODE`` prints the same).

Every ``fu:`` route is for staff only (``roles=STAFF``: invisible to citizens), and each handler
checks again (``team_scope``) that the team in the payload is the user's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core import files
from bot.core.context import Context
from bot.core.replies import Button, Reply
from bot.core.router import STAFF, Router
from bot.reports.build import Report, build_report, display_name
from bot.reports.chart import chart_png
from bot.reports.table import csv_bytes
from bot.reports.text import stuck_text, summary_text, team_title
from handlers.menu import menu_button
from handlers.scope import ALL, Scope, payload_args, payload_int, team_scope
from storage.models import User
from storage.repos.teams import ProgressRepo, QuestionRepo, TeamRepo
from storage.repos.users import UserRepo

if TYPE_CHECKING:
    from bot.config import Config

router = Router("team_tools")

PAGE = 8  # citizens per page when choosing whom a member guided
MAX_STUCK = 15  # stuck citizens listed in the chat (the CSV has everyone)


def home_button(ctx: Context, scope: Scope) -> Button:
    """Back to the team tools of ``scope``."""
    return ctx.button("followup.home_button", f"fu:home:{scope.team_id}")


async def _report(ctx: Context, scope: Scope) -> Report:
    return await build_report(
        ctx.session,
        ctx.content,
        scope.team,
        ctx.services.clock(),
        ctx.services.config.teams.stuck_days,
    )


@router.command("team", roles=STAFF)
@router.button("fu:home", roles=STAFF)
async def home(ctx: Context) -> None:
    """The team tools; an admin without a team in the payload first picks one."""
    args = payload_args(ctx, "fu:home:")
    repo = TeamRepo(ctx.session)
    if ctx.user.role == "admin" and not args:
        teams = await repo.all()
        buttons = [Button(t.name, f"fu:home:{t.id}") for t in teams[:PAGE]]
        buttons.append(ctx.button("followup.all_teams", f"fu:home:{ALL}"))
        buttons.append(ctx.button("followup.admin_queue", f"fu:queue:{ALL}"))
        ctx.send(Reply.with_buttons(ctx.t("followup.admin_pick", teams=len(teams)), buttons))
        return
    scope = await team_scope(ctx, args[0] if args else None)
    if scope is None:
        return
    questions = QuestionRepo(ctx.session)
    citizens = len(await repo.citizens(scope.team.id if scope.team else None))
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
        ctx.button("followup.summary_button", f"fu:sum:{t}"),
        ctx.button("followup.stuck_button", f"fu:stuck:{t}"),
        ctx.button("followup.queue_button", f"fu:queue:{t}"),
        ctx.button("followup.chart_button", f"fu:chart:{t}"),
        ctx.button("followup.csv_button", f"fu:csv:{t}"),
    ]
    if scope.team is not None:
        buttons.insert(3, ctx.button("followup.guide_button", f"fu:guide:{t}:0"))
        buttons.append(ctx.button("followup.code_button", f"fu:code:{t}"))
    buttons.append(ctx.button("followup.broadcast_button", "bcast:new"))
    buttons.append(menu_button(ctx))
    ctx.send(Reply.with_buttons(text, buttons))


@router.button("fu:sum:", roles=STAFF)
async def summary(ctx: Context) -> None:
    """The team summary."""
    scope = await team_scope(ctx, next(iter(payload_args(ctx, "fu:sum:")), None))
    if scope is None:
        return
    report = await _report(ctx, scope)
    ctx.send(Reply.with_buttons(summary_text(report, ctx.content), [home_button(ctx, scope)]))


@router.button("fu:stuck:", roles=STAFF)
async def stuck(ctx: Context) -> None:
    """Who needs help, with a button per person to record in-person guidance."""
    scope = await team_scope(ctx, next(iter(payload_args(ctx, "fu:stuck:")), None))
    if scope is None:
        return
    report = await _report(ctx, scope)
    days = ctx.services.config.teams.stuck_days
    buttons = []
    if scope.team is not None:
        for item in report.stuck[:PAGE]:
            buttons.append(
                ctx.button(
                    "followup.stuck_guided_button",
                    f"fu:guided:{scope.team_id}:{item.row.user.id}:{item.skill.id}",
                    name=display_name(item.row.user, ctx.content.messages)[:24],
                    skill=item.skill.title[:24],
                )
            )
    buttons.append(home_button(ctx, scope))
    text = stuck_text(report, ctx.content.messages, days, MAX_STUCK)
    ctx.send(Reply.with_buttons(text, buttons))


@router.button("fu:guide:", roles=STAFF)
async def guide_pick_citizen(ctx: Context) -> None:
    """Choose the citizen a member guided in person (a page of the team's citizens)."""
    args = payload_args(ctx, "fu:guide:")
    scope = await team_scope(ctx, args[0] if args else None)
    if scope is None or scope.team is None:
        return
    citizens = await TeamRepo(ctx.session).citizens(scope.team.id)
    if not citizens:
        ctx.say("followup.guide_no_citizens", home_button(ctx, scope))
        return
    pages = (len(citizens) + PAGE - 1) // PAGE
    page = min(payload_int(args[1] if len(args) > 1 else None) or 0, pages - 1)
    buttons = [
        Button(display_name(u, ctx.content.messages)[:40], f"fu:gcit:{scope.team.id}:{u.id}")
        for u in citizens[page * PAGE : (page + 1) * PAGE]
    ]
    if page + 1 < pages:
        buttons.append(ctx.button("followup.guide_more", f"fu:guide:{scope.team.id}:{page + 1}"))
    buttons.append(home_button(ctx, scope))
    ctx.send(
        Reply.with_buttons(
            ctx.t("followup.guide_pick_citizen", page=page + 1, pages=pages), buttons
        )
    )


async def _citizen_of(ctx: Context, scope: Scope, raw: str | None) -> User | None:
    """The citizen named in a payload, only if they are a citizen of the scope's team."""
    user_id = payload_int(raw)
    if user_id is None or scope.team is None:
        return None
    user = await UserRepo(ctx.session).get(user_id)
    membership = await TeamRepo(ctx.session).membership(user_id)
    if user is None or user.role != "citizen" or membership is None:
        return None
    return user if membership.team_id == scope.team.id else None


@router.button("fu:gcit:", roles=STAFF)
async def guide_pick_skill(ctx: Context) -> None:
    """Choose the skill the citizen was taught in person."""
    args = payload_args(ctx, "fu:gcit:")
    scope = await team_scope(ctx, args[0] if args else None)
    if scope is None or scope.team is None:
        return
    citizen = await _citizen_of(ctx, scope, args[1] if len(args) > 1 else None)
    if citizen is None:
        ctx.say("followup.guide_gone", home_button(ctx, scope))
        return
    skills = sorted(ctx.content.lessons.skills, key=lambda s: (s.job == 0, s.job))
    buttons = [
        Button(skill.title[:60], f"fu:guided:{scope.team.id}:{citizen.id}:{skill.id}")
        for skill in skills
    ]
    buttons.append(home_button(ctx, scope))
    name = display_name(citizen, ctx.content.messages)
    ctx.send(Reply.with_buttons(ctx.t("followup.guide_pick_skill", name=name), buttons))


@router.button("fu:guided:", roles=STAFF)
async def guided(ctx: Context) -> None:
    """Record in-person guidance (distinct from a completion through the bot)."""
    args = payload_args(ctx, "fu:guided:")
    scope = await team_scope(ctx, args[0] if args else None)
    if scope is None or scope.team is None:
        return
    citizen = await _citizen_of(ctx, scope, args[1] if len(args) > 1 else None)
    skill = ctx.content.lessons.get(args[2]) if len(args) > 2 else None
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
    ctx.send(Reply.with_buttons(ctx.t("menu.title"), [home_button(ctx, scope), menu_button(ctx)]))


def _file_stem(scope: Scope) -> str:
    return f"to-{scope.team.code}" if scope.team is not None else "tat-ca-cac-to"


@router.button("fu:chart:", roles=STAFF)
async def chart(ctx: Context) -> None:
    """The progress chart as a PNG."""
    scope = await team_scope(ctx, next(iter(payload_args(ctx, "fu:chart:")), None))
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


@router.button("fu:csv:", roles=STAFF)
async def export_csv(ctx: Context) -> None:
    """Citizens x skills as a CSV file (a link on the web chat and on Zalo)."""
    scope = await team_scope(ctx, next(iter(payload_args(ctx, "fu:csv:")), None))
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


@router.button("fu:code", roles=STAFF)
async def team_code(ctx: Context) -> None:
    """The team's join code (and Telegram link) to share with citizens."""
    args = payload_args(ctx, "fu:code:")
    if ctx.user.role == "admin" and not args:
        await home(ctx)
        return
    scope = await team_scope(ctx, args[0] if args else None)
    if scope is None or scope.team is None:
        return
    text = ctx.t("followup.code", team=scope.team.name, code=scope.team.code)
    link = deep_link(ctx.services.config, scope.team.code)
    if link:
        text += "\n" + ctx.t("followup.code_link", link=link)
    ctx.send(Reply.with_buttons(text, [home_button(ctx, scope)]))
