"""Joining a village team: Telegram deep link ``/start <code>``, the code typed on any channel,
or choosing commune and village right after consent. Member invites (one-time codes from
``trolyso team add-member``) make their user a member, lead or admin.

A code sent before consent (``/start CODE`` from the QR poster) is kept (``BEFORE_CONSENT`` of
handlers/start.py, outside any flow's data) and used once the citizen agrees
(``AFTER_CONSENT``). Contacting the team (``/contact``, and ``/team`` for citizens) is here too.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.events import Command, TextMessage
from bot.core.replies import Reply
from bot.core.router import CITIZEN, STAFF, Router
from bot.reports.text import contact_lines
from handlers.menu import menu_button, show_menu
from handlers.payloads import (
    MenuContact,
    TeamChoose,
    TeamCode,
    TeamCommune,
    TeamHome,
    TeamPick,
    TeamSkip,
    WriteQuestion,
)
from handlers.start import AFTER_CONSENT, BEFORE_CONSENT
from storage.models import TEAM_STAFF, Role, Team
from storage.models.teams import JOINED_BY_CHOICE, JOINED_BY_CODE, JOINED_BY_LINK
from storage.repos.teams import TeamRepo, clean_code
from storage.repos.zalo_oa import CHANNEL as OA_CHANNEL
from storage.repos.zalo_oa import ZaloOARepo

router = Router("teams")

PENDING = "join_code"  # the kept attribute holding a code sent before consent
MAX_CODE_TEXT = 24  # longer texts are questions, not codes
MAX_CODE_PIECES = 2  # a code may be typed in two halves; three words are a question
MAX_CHOICES = 8


def team_values(team: Team) -> dict[str, str]:
    """Placeholders describing a team."""
    return {"team": team.name, "village": team.village, "commune": team.commune}


def _code_in(text: str) -> str | None:
    """The text as a code, when it is short enough to be one (at most two pieces: "ab3 4kd")."""
    if len(text.strip()) > MAX_CODE_TEXT or len(text.split()) > MAX_CODE_PIECES:
        return None
    return clean_code(text)


async def is_code(ctx: Context, code: str) -> bool:
    """Whether ``code`` is a team's join code or a usable member invite."""
    repo = TeamRepo(ctx.session)
    return (
        await repo.by_code(code) is not None
        or await repo.usable_invite(code, ctx.services.clock()) is not None
    )


async def join_team(ctx: Context, team: Team, how: str) -> None:
    """Put the citizen in ``team`` and say so (members and admins are not moved)."""
    repo = TeamRepo(ctx.session)
    current = await repo.team_of(ctx.user.id)
    if ctx.user.role == Role.ADMIN:
        show_menu(ctx, "teams.admin_no_join")
        return
    if ctx.user.role in TEAM_STAFF:
        show_menu(ctx, "teams.staff_no_join", **team_values(current or team))
        return
    if current is not None and current.id == team.id:
        show_menu(ctx, "teams.already", **team_values(team))
        return
    await repo.join(ctx.user.id, team.id, how, ctx.services.clock())
    show_menu(ctx, "teams.moved" if current is not None else "teams.joined", **team_values(team))


async def use_code(ctx: Context, code: str, how: str) -> bool:
    """Join with a team code or redeem a member invite; False when the code is neither."""
    repo = TeamRepo(ctx.session)
    team = await repo.by_code(code)
    if team is not None:
        await join_team(ctx, team, how)
        return True
    invite = await repo.redeem(code, ctx.user, ctx.services.clock())
    if invite is None:
        return False
    invited = await repo.get(invite.team_id) if invite.team_id is not None else None
    keys: dict[str, str] = {
        Role.MEMBER: "teams.invite_member",
        Role.LEAD: "teams.invite_lead",
        Role.COMMUNE: "teams.invite_commune",
    }
    key = keys.get(invite.role, "teams.invite_admin")
    ctx.send(
        Reply.with_buttons(
            ctx.t(key, **(team_values(invited) if invited else {})),
            [ctx.button("teams.teams_button", TeamHome()), menu_button(ctx)],
        )
    )
    return True


async def served_teams(ctx: Context) -> list[Team]:
    """The teams served by the account the citizen wrote to (a commune's Zalo OA), if any."""
    if ctx.user.channel != OA_CHANNEL:
        return []
    oa_id = ctx.user.external_id.partition(":")[0]
    return await ZaloOARepo(ctx.session).teams(oa_id)


async def offer_teams(ctx: Context, text_key: str = "teams.choose_commune") -> bool:
    """Ask for the commune (or the village when there is one commune); False if no team exists.

    A citizen writing to a commune's Zalo OA is offered that OA's villages straight away.
    """
    served = await served_teams(ctx)
    if served:
        buttons = [ctx.labelled(t.village, TeamPick(t.id)) for t in served[:MAX_CHOICES]]
        buttons.append(ctx.button("teams.no_village", TeamSkip()))
        text = ctx.t("teams.choose_village", commune=served[0].commune)
        ctx.send(Reply.with_buttons(f"{ctx.t(text_key)}\n{text}", buttons))
        return True
    repo = TeamRepo(ctx.session)
    communes = await repo.communes()
    if not communes:
        return False
    if len(communes) == 1:  # one question per message: the village (or the code)
        await offer_villages(ctx, communes[0].commune, with_code=text_key == "teams.ask_code")
        return True
    buttons = [ctx.labelled(t.commune, TeamCommune(t.id)) for t in communes[:MAX_CHOICES]]
    buttons.append(ctx.button("teams.skip", TeamSkip()))
    ctx.send(Reply.with_buttons(ctx.t(text_key), buttons))
    return True


async def offer_villages(ctx: Context, commune: str, *, with_code: bool = False) -> None:
    """The villages of a commune, as buttons: one question (``with_code``: or type the code)."""
    teams = await TeamRepo(ctx.session).in_commune(commune)
    buttons = [ctx.labelled(t.village, TeamPick(t.id)) for t in teams[:MAX_CHOICES]]
    buttons.append(ctx.button("teams.no_village", TeamSkip()))
    key = "teams.choose_village_or_code" if with_code else "teams.choose_village"
    ctx.send(Reply.with_buttons(ctx.t(key, commune=commune), buttons))


# --- before and after consent ----------------------------------------------------------------


async def remember_code(ctx: Context) -> None:
    """Before consent, keep a join code (deep link or typed) to use once the citizen agrees."""
    event = ctx.event
    code = None
    if isinstance(event, Command) and event.name == "start" and event.arg:
        code = clean_code(event.arg)
    elif isinstance(event, TextMessage):
        code = _code_in(event.text)
    if code is not None and await is_code(ctx, code):
        ctx.keep(PENDING, code)


async def team_after_consent(ctx: Context) -> bool:
    """Once the citizen agrees: join the remembered team, or offer the villages."""
    pending = ctx.kept(PENDING)
    if pending is None and ctx.flow is None:  # kept in the flow data before migration 0008
        pending = (ctx.state.data or {}).get(PENDING)
        ctx.leave()
    ctx.keep(PENDING, None)
    if isinstance(pending, str) and await use_code(ctx, pending, JOINED_BY_LINK):
        return True
    return await offer_teams(ctx)


router.extend(BEFORE_CONSENT, remember_code)
router.extend(AFTER_CONSENT, team_after_consent)


def _has_arg(ctx: Context) -> bool:
    return isinstance(ctx.event, Command) and bool(ctx.event.arg)


@router.command("start", when=_has_arg)
async def start_with_code(ctx: Context) -> None:
    """``/start CODE`` (Telegram deep link from the QR poster): join (``/start`` alone is the
    greeting of handlers/start.py)."""
    assert isinstance(ctx.event, Command)
    code = clean_code(ctx.event.arg)
    if code is None or not await use_code(ctx, code, JOINED_BY_LINK):
        show_menu(ctx, "teams.bad_code", code=ctx.event.arg[:24])


@router.command("join", "jointeam")
async def join_command(ctx: Context) -> None:
    """``/join CODE``, or "vào tổ": ask for the code or the village."""
    event = ctx.event
    if isinstance(event, Command) and event.arg:
        code = clean_code(event.arg)
        if code is None or not await use_code(ctx, code, JOINED_BY_CODE):
            show_menu(ctx, "teams.bad_code", code=event.arg[:24])
        return
    if ctx.user.role in STAFF:
        ctx.say(
            "teams.ask_code_only", ctx.button("followup.code_button", TeamCode()), menu_button(ctx)
        )
        return
    if not await offer_teams(ctx, "teams.ask_code"):
        ctx.say("teams.ask_code_only", menu_button(ctx))


async def _is_typed_code(ctx: Context) -> bool:
    """Whether the text is short enough to be a code and is a team's code or an invite."""
    if not isinstance(ctx.event, TextMessage):
        return False
    code = _code_in(ctx.event.text)
    return code is not None and await is_code(ctx, code)


@router.text(when=_is_typed_code)
async def typed_code(ctx: Context) -> None:
    """A short text that is a team code or a member invite: use it."""
    assert isinstance(ctx.event, TextMessage)
    code = _code_in(ctx.event.text)
    if code is not None:
        await use_code(ctx, code, JOINED_BY_CODE)


@router.button(TeamCommune)
async def pick_commune(ctx: Context, pressed: TeamCommune) -> None:
    """A commune was chosen: offer its villages."""
    team = await TeamRepo(ctx.session).get(pressed.team)
    if team is None:
        show_menu(ctx, "fallback.stale")
        return
    await offer_villages(ctx, team.commune)


@router.button(TeamPick)
async def pick_village(ctx: Context, pressed: TeamPick) -> None:
    """A village was chosen: join its team."""
    team = await TeamRepo(ctx.session).get(pressed.team)
    if team is None:
        show_menu(ctx, "fallback.stale")
        return
    await join_team(ctx, team, JOINED_BY_CHOICE)


@router.button(TeamSkip)
async def skip_team(ctx: Context, _: TeamSkip) -> None:
    """No village chosen: the bot works without a team."""
    show_menu(ctx, "teams.village_missing")


@router.button(TeamChoose)
async def choose_team(ctx: Context, _: TeamChoose) -> None:
    """Offer the communes and villages again."""
    if not await offer_teams(ctx, "teams.ask_code"):
        ctx.say("teams.ask_code_only", menu_button(ctx))


@router.button(MenuContact)
@router.command("contact")
@router.command("team", roles=CITIZEN)  # staff: the team tools (handlers/team_tools.py)
async def contact_team(ctx: Context, _: MenuContact | None = None) -> None:
    """ "Liên hệ tổ": the citizen's team and a way to send it a question."""
    repo = TeamRepo(ctx.session)
    team = await repo.team_of(ctx.user.id)
    buttons = [ctx.button("question.send_button", WriteQuestion())]
    if team is None:
        if await repo.communes():
            buttons.append(ctx.button("teams.choose_button", TeamChoose()))
        ctx.say("teams.contact_no_team", *buttons, menu_button(ctx))
        return
    text = ctx.t("teams.contact_team", **team_values(team)).rstrip()
    lines = contact_lines(team, ctx.content.messages)
    if lines:  # the team's own phone or Zalo, meeting place and hours
        text += "\n\n" + "\n".join(lines)
    ctx.send(Reply.with_buttons(text, [*buttons, menu_button(ctx)]))
