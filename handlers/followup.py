"""Team members' side of the bot, and questions the bot couldn't answer reaching a human.

Follow-up (members and leads see their own team only; admins see every team, or all at once):
a summary (citizens, how many reached the five basic skills, completions per skill), who is
stuck (a lesson left unfinished for ``teams.stuck_days`` days, or a failed quiz), recording
that a member guided a citizen through a skill in person, a progress chart (PNG) and a CSV of
citizens x skills. The same report is printed by ``trolyso report --team CODE``.

Questions: the "send to the team" button puts a citizen's question in their team's queue (no
team: the admin queue) and pushes it to the team's members on their own channels; a member
presses "answer", types it, and it is delivered to the citizen on the citizen's channel.

Every ``fu:`` and ``tq:answer`` route is for staff only (``roles=STAFF``: invisible to
citizens), and each handler checks again that the team in the payload is the user's own.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core import files
from bot.core.context import Context
from bot.core.events import ButtonPress, TextMessage
from bot.core.replies import Button, Reply
from bot.core.router import STAFF, Router
from handlers.answers import UNANSWERED_BUTTONS
from handlers.lessons import FIVE_JOBS
from handlers.menu import menu_button
from storage.models import Team, TeamQuestion, User
from storage.models.answers import NOT_HELPFUL
from storage.models.lessons import FAILED
from storage.models.teams import COUNT_BASIC_FIVE, COUNT_CITIZEN, COUNT_COMPLETION, COUNT_GUIDED
from storage.repos.answers import AnswerRepo
from storage.repos.lessons import LessonRepo
from storage.repos.teams import STAFF_ROLES, ProgressRepo, QuestionRepo, TeamRepo
from storage.repos.users import UserRepo

if TYPE_CHECKING:
    from PIL import ImageFont
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.config import Config
    from bot.content.lessons import Skill
    from bot.content.messages import Messages
    from bot.content.snapshot import Snapshot

router = Router("followup")

ALL = 0  # team id in payloads meaning "every team" (admins only); for queues: the admin queue
PAGE = 8  # citizens per page when choosing whom a member guided
MAX_STUCK = 15  # stuck citizens listed in the chat (the CSV has everyone)
MAX_QUEUE = 10  # open questions listed at once
ANSWER_FLOW = "tq_answer"
WRITE_FLOW = "tq_write"
FLOW_MINUTES = 60  # a flow waiting for typed text lapses after this long
VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving time

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "/Library/Fonts", "C:/Windows/Fonts")
FONT_FILES = {
    False: ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf", "arial.ttf"),
    True: ("DejaVuSans-Bold.ttf", "NotoSans-Bold.ttf", "LiberationSans-Bold.ttf", "arialbd.ttf"),
}


# --- fonts ---------------------------------------------------------------------------------------


def find_font(config: Config, *, bold: bool = False) -> Path:
    """A TrueType font with Vietnamese letters: ``teams.font``, else a known system font."""
    if config.teams.font:
        path = config.path(config.teams.font)
        if path.is_file():
            return path
        raise FileNotFoundError(f"teams.font {config.teams.font} does not exist")
    for name in (*FONT_FILES[bold], *FONT_FILES[False]):
        for folder in FONT_DIRS:
            root = Path(folder)
            if not root.is_dir():
                continue
            direct = [p for p in root.rglob(name)]
            if direct:
                return sorted(direct)[0]
    raise FileNotFoundError(
        "no TrueType font with Vietnamese letters found: install fonts-dejavu-core "
        "(Debian/Ubuntu) or set teams.font in config.yaml"
    )


def load_font(config: Config, size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """The font of ``find_font`` at ``size`` pixels."""
    from PIL import ImageFont

    return ImageFont.truetype(str(find_font(config, bold=bold)), size)


# --- reports -------------------------------------------------------------------------------------


@dataclass
class CitizenRow:
    """One citizen of a report and where they stand on each skill."""

    user: User
    team: Team | None
    joined_at: datetime
    passed: dict[str, float] = field(default_factory=dict)  # skill id -> best score
    guided: set[str] = field(default_factory=set)
    learning: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    basic_five: bool = False


@dataclass(frozen=True)
class Stuck:
    """A citizen stuck on a skill: ``kind`` reading | quiz | failed."""

    row: CitizenRow
    skill: Skill
    kind: str
    idle_days: int
    step: int = 0
    steps: int = 0
    correct: int = 0
    total: int = 0


@dataclass
class Report:
    """Everything the follow-up views show for one team (``team`` None: every team)."""

    team: Team | None
    rows: list[CitizenRow]
    bot: dict[str, int]  # skill id -> completions through the bot (anonymous ones included)
    guided: dict[str, int]  # skill id -> guided in person (anonymous ones included)
    basic_five: int
    deleted: int
    stuck: list[Stuck]


def display_name(user: User, messages: Messages) -> str:
    """The name members see for a user."""
    name = (user.display_name or "").strip()
    return name or messages("followup.unnamed", id=user.id)


def _reached_five(skills: set[str], snapshot: Snapshot) -> bool:
    jobs = {s.job for s in snapshot.lessons.skills if s.id in skills}
    return jobs >= FIVE_JOBS


async def build_report(
    session: AsyncSession,
    snapshot: Snapshot,
    team: Team | None,
    now: datetime,
    stuck_days: int,
) -> Report:
    """Gather a team's citizens, their completions, in-person guidance and who is stuck."""
    teams = TeamRepo(session)
    users = await teams.citizens(team.id if team is not None else None)
    ids = [u.id for u in users]
    memberships = await teams.memberships(ids)
    by_team = {t.id: t for t in await teams.all()}
    rows: dict[int, CitizenRow] = {}
    for user in users:
        membership = memberships.get(user.id)
        rows[user.id] = CitizenRow(
            user=user,
            team=by_team.get(membership.team_id) if membership else None,
            joined_at=membership.joined_at if membership else user.first_seen,
        )
    progress = ProgressRepo(session)
    records = await progress.records(ids)
    for completion in records.completions:
        rows[completion.user_id].passed[completion.skill_id] = completion.best_score
    for guided in records.guided:
        rows[guided.user_id].guided.add(guided.skill_id)
    for attempt in records.open_attempts:
        rows[attempt.user_id].learning.add(attempt.skill_id)
    anonymous = await progress.anonymous(team.id if team is not None else None)
    bot: dict[str, int] = {}
    guided_counts: dict[str, int] = {}
    for (kind, skill), count in anonymous.items():
        if kind == COUNT_COMPLETION:
            bot[skill] = bot.get(skill, 0) + count
        elif kind == COUNT_GUIDED:
            guided_counts[skill] = guided_counts.get(skill, 0) + count
    stuck: list[Stuck] = []
    idle_limit = now - timedelta(days=stuck_days)
    for attempt in await LessonRepo(session).stuck(now, ids) if ids else []:
        row = rows[attempt.user_id]
        found = snapshot.lessons.get(attempt.skill_id)
        if found is None or attempt.skill_id in row.guided:
            continue
        idle = max(0, (now - attempt.updated_at).days)
        if attempt.status == FAILED:
            row.failed.add(found.id)
            stuck.append(
                Stuck(
                    row,
                    found,
                    "failed",
                    idle,
                    correct=attempt.correct or 0,
                    total=attempt.total or len(found.quiz),
                )
            )
        elif attempt.updated_at < idle_limit:
            index = found.step_index(attempt.step_id or "")
            kind = "quiz" if attempt.status == "quiz" else "reading"
            stuck.append(
                Stuck(row, found, kind, idle, step=(index or 0) + 1, steps=len(found.steps))
            )
    basic = anonymous.get((COUNT_BASIC_FIVE, ""), 0)
    for row in rows.values():
        for skill in row.passed:
            bot[skill] = bot.get(skill, 0) + 1
        for skill in row.guided:
            guided_counts[skill] = guided_counts.get(skill, 0) + 1
        row.basic_five = _reached_five(set(row.passed) | row.guided, snapshot)
        basic += row.basic_five
    stuck.sort(key=lambda s: (-s.idle_days, s.row.user.id))
    return Report(
        team=team,
        rows=list(rows.values()),
        bot=bot,
        guided=guided_counts,
        basic_five=basic,
        deleted=anonymous.get((COUNT_CITIZEN, ""), 0),
        stuck=stuck,
    )


def team_title(team: Team | None, messages: Messages) -> str:
    """How a report names its scope."""
    return team.name if team is not None else messages("followup.all_scope")


def summary_text(report: Report, snapshot: Snapshot) -> str:
    """The summary: citizens, five basic skills reached, completions per skill by job."""
    messages = snapshot.messages
    lines = [
        messages(
            "followup.summary",
            team=team_title(report.team, messages),
            citizens=len(report.rows),
            basic=report.basic_five,
        )
    ]
    if report.deleted:
        lines.append(messages("followup.summary_deleted", count=report.deleted))
    lines.append("")
    lines.append(messages("followup.summary_skills"))
    for group in sorted(snapshot.groups, key=lambda g: (g.job == 0, g.job)):
        skills = snapshot.lessons.by_group(group.id)
        if not skills:
            continue
        key = "followup.summary_job" if group.job else "followup.summary_basics"
        lines.append(messages(key, job=group.job, group=group.title))
        for skill in skills:
            bot, guided = report.bot.get(skill.id, 0), report.guided.get(skill.id, 0)
            lines.append(
                messages(
                    "followup.summary_skill",
                    skill=skill.title,
                    total=bot + guided,
                    bot=bot,
                    guided=guided,
                )
            )
    return "\n".join(lines)


def stuck_lines(report: Report, messages: Messages, limit: int | None = None) -> list[str]:
    """One line per stuck citizen and skill."""
    lines = []
    for item in report.stuck[:limit]:
        values: dict[str, Any] = {
            "name": display_name(item.row.user, messages),
            "skill": item.skill.title,
            "idle": item.idle_days,
            "step": item.step,
            "steps": item.steps,
            "correct": item.correct,
            "total": item.total,
        }
        lines.append(messages(f"followup.stuck_{item.kind}", **values))
    return lines


def stuck_text(report: Report, messages: Messages, days: int, limit: int | None = None) -> str:
    """The list of who needs help."""
    head = messages("followup.stuck_title", team=team_title(report.team, messages), days=days)
    if not report.stuck:
        return f"{head}\n{messages('followup.stuck_none')}"
    lines = [head, *stuck_lines(report, messages, limit)]
    if limit is not None and len(report.stuck) > limit:
        lines.append(messages("followup.stuck_more", count=len(report.stuck) - limit))
    return "\n".join(lines)


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_bytes(report: Report, snapshot: Snapshot) -> bytes:
    """Citizens x skills as CSV (UTF-8 with BOM, so spreadsheets show Vietnamese correctly)."""
    messages = snapshot.messages
    skills = sorted(snapshot.lessons.skills, key=lambda s: (s.job == 0, s.job))
    out = io.StringIO()
    writer = csv.writer(out)
    header = [messages("followup.csv_name"), messages("followup.csv_channel")]
    if report.team is None:
        header.append(messages("followup.csv_team"))
    header += [messages("followup.csv_joined"), messages("followup.csv_basic")]
    header += [f"{s.title} ({s.id})" for s in skills]
    writer.writerow(header)
    for row in sorted(report.rows, key=lambda r: (display_name(r.user, messages), r.user.id)):
        cells = [_cell(display_name(row.user, messages)), row.user.channel]
        if report.team is None:
            cells.append(_cell(row.team.name) if row.team else "")
        cells.append(row.joined_at.astimezone(VIETNAM).strftime("%d/%m/%Y"))
        cells.append(messages("followup.csv_yes" if row.basic_five else "followup.csv_no"))
        for skill in skills:
            if skill.id in row.passed:
                cells.append(
                    messages("followup.csv_passed", score=round(100 * row.passed[skill.id]))
                )
            elif skill.id in row.guided:
                cells.append(messages("followup.csv_guided"))
            elif skill.id in row.learning:
                cells.append(messages("followup.csv_learning"))
            elif skill.id in row.failed:
                cells.append(messages("followup.csv_failed"))
            else:
                cells.append("")
        writer.writerow(cells)
    return out.getvalue().encode("utf-8-sig")


def chart_png(report: Report, snapshot: Snapshot, config: Config) -> bytes:
    """A bar chart of completions per skill (through the bot, and in person), grouped by job."""
    from PIL import Image, ImageDraw

    messages = snapshot.messages
    title_font = load_font(config, 30, bold=True)
    group_font = load_font(config, 22, bold=True)
    font = load_font(config, 20)
    groups = [
        (g, snapshot.lessons.by_group(g.id))
        for g in sorted(snapshot.groups, key=lambda g: (g.job == 0, g.job))
    ]
    groups = [(g, s) for g, s in groups if s]
    width, left, right, row_h = 1400, 560, 90, 40
    height = 150 + sum(48 + row_h * len(s) for _, s in groups) + 30
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    blue, orange, grey = (37, 99, 235), (234, 138, 0), (60, 60, 60)
    draw.text(
        (30, 24),
        messages("followup.chart_title", team=team_title(report.team, messages)),
        font=title_font,
        fill="black",
    )
    legend_y = 78
    for x, colour, key in (
        (30, blue, "followup.chart_legend_bot"),
        (420, orange, "followup.chart_legend_guided"),
    ):
        draw.rectangle((x, legend_y + 4, x + 24, legend_y + 24), fill=colour)
        draw.text((x + 34, legend_y), messages(key), font=font, fill=grey)
    top = max(
        [1, *(report.bot.get(s.id, 0) + report.guided.get(s.id, 0) for _, ss in groups for s in ss)]
    )
    scale = (width - left - right) / top
    y = 130
    for group, skills in groups:
        label = (
            messages("followup.summary_job", job=group.job, group=group.title)
            if group.job
            else messages("followup.chart_basics")
        )
        draw.text((30, y + 12), label, font=group_font, fill="black")
        y += 48
        for skill in skills:
            title = skill.title
            while font.getlength(title) > left - 70 and len(title) > 4:
                title = title[:-2].rstrip() + "…"
            draw.text((50, y + 8), title, font=font, fill=grey)
            bot, guided = report.bot.get(skill.id, 0), report.guided.get(skill.id, 0)
            x0 = float(left)
            if bot:
                draw.rectangle((x0, y + 6, x0 + bot * scale, y + row_h - 6), fill=blue)
                x0 += bot * scale
            if guided:
                draw.rectangle((x0, y + 6, x0 + guided * scale, y + row_h - 6), fill=orange)
                x0 += guided * scale
            draw.text((x0 + 10, y + 8), str(bot + guided), font=font, fill="black")
            y += row_h
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --- who may see what ----------------------------------------------------------------------------


def _args(ctx: Context, prefix: str) -> list[str]:
    """The colon-separated arguments after ``prefix`` in the pressed payload."""
    if not isinstance(ctx.event, ButtonPress):
        return []
    rest = ctx.event.payload[len(prefix) :]
    return rest.split(":") if rest else []


def _int(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() and len(raw) <= 12 else None


async def own_team(ctx: Context) -> Team | None:
    """The team of the member or lead using the bot."""
    return await TeamRepo(ctx.session).team_of(ctx.user.id)


@dataclass(frozen=True)
class Scope:
    """What a follow-up view covers: one team, or every team (``team`` None, admins only)."""

    team: Team | None

    @property
    def team_id(self) -> int:
        """The id used in payloads (``ALL`` for every team)."""
        return self.team.id if self.team is not None else ALL


async def scope_of(ctx: Context, raw: str | None) -> Scope | None:
    """The scope a payload names, if this user may see it; otherwise says so and gives None.

    A member or lead may only see their own team whatever the payload says; admins any team,
    or every team (``0``).
    """
    wanted = _int(raw)
    if ctx.user.role == "admin":
        if wanted is None or wanted == ALL:
            return Scope(None)
        team = await TeamRepo(ctx.session).get(wanted)
        if team is None:
            ctx.say("followup.not_yours", menu_button(ctx))
            return None
        return Scope(team)
    if ctx.user.role not in STAFF_ROLES:
        return None
    team = await own_team(ctx)
    if team is None:
        ctx.say("followup.no_team", menu_button(ctx))
        return None
    if wanted is not None and wanted != team.id:
        ctx.say("followup.not_yours", menu_button(ctx))
        return None
    return Scope(team)


def _home_button(ctx: Context, scope: Scope) -> Button:
    return ctx.button("followup.home_button", f"fu:home:{scope.team_id}")


async def _report(ctx: Context, scope: Scope) -> Report:
    return await build_report(
        ctx.session,
        ctx.content,
        scope.team,
        ctx.services.clock(),
        ctx.services.config.teams.stuck_days,
    )


# --- the team tools ------------------------------------------------------------------------------


@router.command("team", roles=STAFF)
@router.button("fu:home", roles=STAFF)
async def home(ctx: Context) -> None:
    """The team tools; an admin without a team in the payload first picks one."""
    args = _args(ctx, "fu:home:")
    repo = TeamRepo(ctx.session)
    if ctx.user.role == "admin" and not args:
        teams = await repo.all()
        buttons = [Button(t.name, f"fu:home:{t.id}") for t in teams[:PAGE]]
        buttons.append(ctx.button("followup.all_teams", f"fu:home:{ALL}"))
        buttons.append(ctx.button("followup.admin_queue", f"fu:queue:{ALL}"))
        ctx.send(Reply.with_buttons(ctx.t("followup.admin_pick", teams=len(teams)), buttons))
        return
    scope = await scope_of(ctx, args[0] if args else None)
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
    scope = await scope_of(ctx, next(iter(_args(ctx, "fu:sum:")), None))
    if scope is None:
        return
    report = await _report(ctx, scope)
    ctx.send(Reply.with_buttons(summary_text(report, ctx.content), [_home_button(ctx, scope)]))


@router.button("fu:stuck:", roles=STAFF)
async def stuck(ctx: Context) -> None:
    """Who needs help, with a button per person to record in-person guidance."""
    scope = await scope_of(ctx, next(iter(_args(ctx, "fu:stuck:")), None))
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
    buttons.append(_home_button(ctx, scope))
    text = stuck_text(report, ctx.content.messages, days, MAX_STUCK)
    ctx.send(Reply.with_buttons(text, buttons))


@router.button("fu:guide:", roles=STAFF)
async def guide_pick_citizen(ctx: Context) -> None:
    """Choose the citizen a member guided in person (a page of the team's citizens)."""
    args = _args(ctx, "fu:guide:")
    scope = await scope_of(ctx, args[0] if args else None)
    if scope is None or scope.team is None:
        return
    citizens = await TeamRepo(ctx.session).citizens(scope.team.id)
    if not citizens:
        ctx.say("followup.guide_no_citizens", _home_button(ctx, scope))
        return
    pages = (len(citizens) + PAGE - 1) // PAGE
    page = min(_int(args[1] if len(args) > 1 else None) or 0, pages - 1)
    buttons = [
        Button(display_name(u, ctx.content.messages)[:40], f"fu:gcit:{scope.team.id}:{u.id}")
        for u in citizens[page * PAGE : (page + 1) * PAGE]
    ]
    if page + 1 < pages:
        buttons.append(ctx.button("followup.guide_more", f"fu:guide:{scope.team.id}:{page + 1}"))
    buttons.append(_home_button(ctx, scope))
    ctx.send(
        Reply.with_buttons(
            ctx.t("followup.guide_pick_citizen", page=page + 1, pages=pages), buttons
        )
    )


async def _citizen_of(ctx: Context, scope: Scope, raw: str | None) -> User | None:
    """The citizen named in a payload, only if they are a citizen of the scope's team."""
    user_id = _int(raw)
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
    args = _args(ctx, "fu:gcit:")
    scope = await scope_of(ctx, args[0] if args else None)
    if scope is None or scope.team is None:
        return
    citizen = await _citizen_of(ctx, scope, args[1] if len(args) > 1 else None)
    if citizen is None:
        ctx.say("followup.guide_gone", _home_button(ctx, scope))
        return
    skills = sorted(ctx.content.lessons.skills, key=lambda s: (s.job == 0, s.job))
    buttons = [
        Button(skill.title[:60], f"fu:guided:{scope.team.id}:{citizen.id}:{skill.id}")
        for skill in skills
    ]
    buttons.append(_home_button(ctx, scope))
    name = display_name(citizen, ctx.content.messages)
    ctx.send(Reply.with_buttons(ctx.t("followup.guide_pick_skill", name=name), buttons))


@router.button("fu:guided:", roles=STAFF)
async def guided(ctx: Context) -> None:
    """Record in-person guidance (distinct from a completion through the bot)."""
    args = _args(ctx, "fu:guided:")
    scope = await scope_of(ctx, args[0] if args else None)
    if scope is None or scope.team is None:
        return
    citizen = await _citizen_of(ctx, scope, args[1] if len(args) > 1 else None)
    skill = ctx.content.lessons.get(args[2]) if len(args) > 2 else None
    if citizen is None or skill is None:
        ctx.say("followup.guide_gone", _home_button(ctx, scope))
        return
    new = await ProgressRepo(ctx.session).guide(
        citizen.id, skill.id, scope.team.id, ctx.user.id, ctx.services.clock()
    )
    name = display_name(citizen, ctx.content.messages)
    key = "followup.guided" if new else "followup.guided_already"
    ctx.say(key, _home_button(ctx, scope), name=name, skill=skill.title)


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
    ctx.send(Reply.with_buttons(ctx.t("menu.title"), [_home_button(ctx, scope), menu_button(ctx)]))


def _file_stem(scope: Scope) -> str:
    return f"to-{scope.team.code}" if scope.team is not None else "tat-ca-cac-to"


@router.button("fu:chart:", roles=STAFF)
async def chart(ctx: Context) -> None:
    """The progress chart as a PNG."""
    scope = await scope_of(ctx, next(iter(_args(ctx, "fu:chart:")), None))
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
    scope = await scope_of(ctx, next(iter(_args(ctx, "fu:csv:")), None))
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
    args = _args(ctx, "fu:code:")
    if ctx.user.role == "admin" and not args:
        await home(ctx)
        return
    scope = await scope_of(ctx, args[0] if args else None)
    if scope is None or scope.team is None:
        return
    text = ctx.t("followup.code", team=scope.team.name, code=scope.team.code)
    link = deep_link(ctx.services.config, scope.team.code)
    if link:
        text += "\n" + ctx.t("followup.code_link", link=link)
    ctx.send(Reply.with_buttons(text, [_home_button(ctx, scope)]))


# --- questions for a human -----------------------------------------------------------------------


def _fresh_flow(ctx: Context, flow: str) -> bool:
    """Whether the user is in ``flow`` and it has not lapsed."""
    if ctx.flow != flow:
        return False
    started = ctx.data.get("at")
    try:
        at = datetime.fromisoformat(started) if isinstance(started, str) else None
    except ValueError:
        at = None
    if at is None or ctx.services.clock() - at > timedelta(minutes=FLOW_MINUTES):
        ctx.leave()
        return False
    return True


@router.guard()
async def typed_text_only(ctx: Context) -> bool:
    """Writing a question or an answer ends when the user does anything but type it (a command,
    another button): their next free text must not be sent to someone by surprise."""
    event = ctx.event
    typing = isinstance(event, TextMessage)
    own_button = isinstance(event, ButtonPress) and event.payload.startswith("tq:")
    if ctx.flow in (WRITE_FLOW, ANSWER_FLOW) and not typing and not own_button:
        ctx.leave()
    return False


def _enter(ctx: Context, flow: str, **data: Any) -> None:
    ctx.enter(flow, {"at": ctx.services.clock().isoformat(), **data})


async def send_question(ctx: Context, text: str, source: str) -> None:
    """Queue the user's question for their team (or the admins) and push it to them."""
    text = text.strip()
    if not text:
        ctx.say("question.empty", menu_button(ctx))
        return
    teams = TeamRepo(ctx.session)
    team = await teams.team_of(ctx.user.id)
    question, new = await QuestionRepo(ctx.session).ask(
        ctx.user, team.id if team else None, text, source, ctx.services.clock()
    )
    if not new:
        ctx.say("question.already_sent", menu_button(ctx))
        return
    recipients = await teams.staff(team.id) if team is not None else []
    name = display_name(ctx.user, ctx.content.messages)
    if team is not None and recipients:
        message = ctx.t("question.new", team=team.name, name=name, text=question.text)
    else:
        recipients = await teams.admins()
        message = ctx.t("question.new_admin", name=name, text=question.text)
        if team is not None:
            message = ctx.t("question.new", team=team.name, name=name, text=question.text)
    answer = ctx.button("question.answer_button", f"tq:answer:{question.id}")
    for recipient in recipients:
        if recipient.id != ctx.user.id:
            ctx.push(recipient.id, Reply.with_buttons(message, [answer]))
    if team is not None:
        ctx.say("question.sent", menu_button(ctx), team=team.name)
    else:
        ctx.say("question.sent_admin", menu_button(ctx))


def send_to_team_button(ctx: Context, log_id: int | str) -> Button | None:
    """ "Gửi câu hỏi cho tổ" under a question the bot left unanswered (handlers/answers.py)."""
    return ctx.button("question.send_button", f"tq:log:{log_id}")


if send_to_team_button not in UNANSWERED_BUTTONS:
    UNANSWERED_BUTTONS.append(send_to_team_button)


@router.button("tq:log:")
async def send_logged_question(ctx: Context) -> None:
    """Send a question the bot could not answer (from the question log) to the team."""
    log_id = _int(next(iter(_args(ctx, "tq:log:")), None))
    row = await AnswerRepo(ctx.session).of_user(log_id, ctx.user.id) if log_id else None
    if row is None:
        ctx.say("question.nothing_to_send", menu_button(ctx))
        return
    await send_question(ctx, row.text, "feedback" if row.feedback == NOT_HELPFUL else "fallback")


@router.command("askteam")
@router.button("tq:write")
async def write_question(ctx: Context) -> None:
    """Ask the user to type the question for their team."""
    team = await TeamRepo(ctx.session).team_of(ctx.user.id)
    _enter(ctx, WRITE_FLOW)
    cancel = ctx.button("question.cancel_button", "tq:cancel")
    if team is not None:
        ctx.say("question.write_prompt", cancel, team=team.name)
    else:
        ctx.say("question.write_prompt_admin", cancel)


@router.text(flow=WRITE_FLOW)
async def written_question(ctx: Context) -> bool | None:
    """The typed question: send it to the team."""
    if not _fresh_flow(ctx, WRITE_FLOW) or not isinstance(ctx.event, TextMessage):
        return False
    ctx.leave()
    await send_question(ctx, ctx.event.text, "direct")
    return None


@router.button("tq:cancel")
async def cancel(ctx: Context) -> None:
    """Leave writing a question or an answer."""
    if ctx.flow in (WRITE_FLOW, ANSWER_FLOW):
        ctx.leave()
    ctx.say("question.cancelled", menu_button(ctx))


async def _answerable(ctx: Context, raw: str | None) -> TeamQuestion | None:
    """The open question this staff user may answer, or None (having said why)."""
    question_id = _int(raw)
    question = await QuestionRepo(ctx.session).get(question_id) if question_id else None
    if question is None:
        ctx.say("question.gone", menu_button(ctx))
        return None
    if ctx.user.role != "admin":
        team = await own_team(ctx)
        if team is None or question.team_id != team.id:
            ctx.say("followup.not_yours", menu_button(ctx))
            return None
    if question.answered_by is not None or question.status != "open":
        who = await UserRepo(ctx.session).get(question.answered_by or 0)
        name = display_name(who, ctx.content.messages) if who else ctx.t("question.someone")
        ctx.say("question.answered_already", menu_button(ctx), who=name)
        return None
    return question


@router.button("tq:answer:", roles=STAFF)
async def start_answer(ctx: Context) -> None:
    """A member chose to answer a question: ask for the answer."""
    question = await _answerable(ctx, next(iter(_args(ctx, "tq:answer:")), None))
    if question is None:
        return
    asker = await UserRepo(ctx.session).get(question.user_id)
    name = display_name(asker, ctx.content.messages) if asker else ""
    _enter(ctx, ANSWER_FLOW, question=question.id)
    ctx.say(
        "question.answer_prompt",
        ctx.button("question.cancel_button", "tq:cancel"),
        name=name,
        text=question.text,
    )


@router.text(flow=ANSWER_FLOW, roles=STAFF)
async def typed_answer(ctx: Context) -> bool | None:
    """The member's answer: deliver it to the citizen on their channel, mark it answered."""
    if not _fresh_flow(ctx, ANSWER_FLOW) or not isinstance(ctx.event, TextMessage):
        return False
    raw = ctx.data.get("question")
    ctx.leave()
    question = await _answerable(ctx, str(raw) if isinstance(raw, int) else None)
    if question is None:
        return None
    text = ctx.event.text.strip()
    if not text:
        _enter(ctx, ANSWER_FLOW, question=question.id)
        ctx.say("question.answer_empty")
        return None
    await QuestionRepo(ctx.session).answer(question, ctx.user, text, ctx.services.clock())
    team = await TeamRepo(ctx.session).get(question.team_id) if question.team_id else None
    team_name = team.name if team else ctx.t("question.admin_team")
    me = (ctx.user.display_name or "").strip() or team_name
    delivered = ctx.t(
        "question.delivered", team=team_name, question=question.text, answer=text, who=me
    )
    ctx.push(question.user_id, Reply(text=delivered))
    asker = await UserRepo(ctx.session).get(question.user_id)
    name = display_name(asker, ctx.content.messages) if asker else ""
    ctx.say("question.answer_sent", menu_button(ctx), name=name)
    return None


@router.button("fu:queue:", roles=STAFF)
async def queue(ctx: Context) -> None:
    """Open questions of the team (``0``: the admin queue, admins only)."""
    raw = next(iter(_args(ctx, "fu:queue:")), None)
    if _int(raw) == ALL and ctx.user.role == "admin":
        team: Team | None = None
        scope = Scope(None)
    else:
        found = await scope_of(ctx, raw)
        if found is None or found.team is None:
            return
        scope, team = found, found.team
    questions = await QuestionRepo(ctx.session).open(team.id if team else None, MAX_QUEUE)
    count = await QuestionRepo(ctx.session).open_count(team.id if team else None)
    title = team.name if team else ctx.t("question.admin_team")
    if not questions:
        ctx.say("question.queue_empty", _home_button(ctx, scope))
        return
    ctx.say("question.queue_title", team=title, count=count)
    users = UserRepo(ctx.session)
    for question in questions:
        asker = await users.get(question.user_id)
        ctx.send(
            Reply.with_buttons(
                ctx.t(
                    "question.queue_item",
                    name=display_name(asker, ctx.content.messages) if asker else "",
                    when=question.created_at.astimezone(VIETNAM).strftime("%H:%M %d/%m"),
                    text=question.text,
                ),
                [ctx.button("question.answer_button", f"tq:answer:{question.id}")],
            )
        )
    ctx.send(Reply.with_buttons(ctx.t("menu.title"), [_home_button(ctx, scope)]))
