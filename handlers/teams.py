"""Joining a village team: Telegram deep link ``/start <code>``, the code typed on any channel,
or choosing commune and village right after consent. Member invites (one-time codes from
``trolyso team add-member``) make their user a member, lead or admin.

This router comes before the consent guard of ``handlers/start.py``: a code sent before consent
(``/start CODE`` from the QR poster) is remembered and used once the citizen agrees.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.core.events import ButtonPress, Command, TextMessage
from bot.core.replies import Button, Reply
from bot.core.router import STAFF, Router
from handlers.menu import menu_button, show_menu
from handlers.start import consent_yes
from storage.models import Team
from storage.models.teams import JOINED_BY_CHOICE, JOINED_BY_CODE, JOINED_BY_LINK
from storage.repos.teams import STAFF_ROLES, TeamRepo, clean_code

router = Router("teams")

PENDING = "join_code"  # key in the conversation data holding a code sent before consent
MAX_CODE_TEXT = 24  # longer texts are questions, not codes
MAX_CODE_PIECES = 2  # a code may be typed in two halves; three words are a question
MAX_CHOICES = 8


def team_values(team: Team) -> dict[str, str]:
    """Placeholders describing a team."""
    return {"team": team.name, "village": team.village, "commune": team.commune}


def _arg(ctx: Context, prefix: str) -> int | None:
    """The integer after ``prefix`` in the pressed payload."""
    if not isinstance(ctx.event, ButtonPress):
        return None
    raw = ctx.event.payload[len(prefix) :]
    return int(raw) if raw.isdigit() and len(raw) <= 12 else None


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
    if ctx.user.role == "admin":
        show_menu(ctx, "teams.admin_no_join")
        return
    if ctx.user.role in STAFF_ROLES:
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
    key = {"member": "teams.invite_member", "lead": "teams.invite_lead"}.get(
        invite.role, "teams.invite_admin"
    )
    ctx.send(
        Reply.with_buttons(
            ctx.t(key, **(team_values(invited) if invited else {})),
            [ctx.button("teams.teams_button", "fu:home"), menu_button(ctx)],
        )
    )
    return True


async def offer_teams(ctx: Context, text_key: str = "teams.choose_commune") -> bool:
    """Ask for the commune (or the village when there is one commune); False if no team exists."""
    repo = TeamRepo(ctx.session)
    communes = await repo.communes()
    if not communes:
        return False
    if len(communes) == 1:
        await offer_villages(ctx, communes[0].commune, text_key)
        return True
    buttons = [Button(t.commune, f"team:commune:{t.id}") for t in communes[:MAX_CHOICES]]
    buttons.append(ctx.button("teams.skip", "team:skip"))
    ctx.send(Reply.with_buttons(ctx.t(text_key), buttons))
    return True


async def offer_villages(ctx: Context, commune: str, text_key: str | None = None) -> None:
    """The villages of a commune, as buttons."""
    teams = await TeamRepo(ctx.session).in_commune(commune)
    buttons = [Button(t.village, f"team:pick:{t.id}") for t in teams[:MAX_CHOICES]]
    buttons.append(ctx.button("teams.no_village", "team:skip"))
    text = ctx.t("teams.choose_village", commune=commune)
    if text_key is not None:
        text = f"{ctx.t(text_key)}\n{text}"
    ctx.send(Reply.with_buttons(text, buttons))


# --- before consent --------------------------------------------------------------------------


@router.guard()
async def remember_code(ctx: Context) -> bool:
    """Before consent, keep a join code (deep link or typed) to use once the citizen agrees."""
    if ctx.user.consent_at is not None:
        return False
    event = ctx.event
    code = None
    if isinstance(event, Command) and event.name == "start" and event.arg:
        code = clean_code(event.arg)
    elif isinstance(event, TextMessage):
        code = _code_in(event.text)
    if code is not None and await is_code(ctx, code):
        ctx.state.data = {**ctx.state.data, PENDING: code}
    return False  # the consent guard shows the privacy notice


@router.button("consent:yes")
async def consent_then_team(ctx: Context) -> bool | None:
    """Record consent (handlers/start.py), then join the remembered team or offer villages."""
    if ctx.user.consent_at is not None:
        return False
    pending = ctx.state.data.get(PENDING)
    before = len(ctx.replies)
    await consent_yes(ctx)
    del ctx.replies[before:]  # we say it our way: consent, then the team
    ctx.state.data = {k: v for k, v in ctx.state.data.items() if k != PENDING}
    ctx.say("welcome.consented")
    if isinstance(pending, str) and await use_code(ctx, pending, JOINED_BY_LINK):
        return None
    if not await offer_teams(ctx):
        show_menu(ctx)
    return None


# --- after consent ---------------------------------------------------------------------------


@router.command("start")
async def start_with_code(ctx: Context) -> bool | None:
    """``/start CODE`` (Telegram deep link from the QR poster): join; without a code, pass."""
    event = ctx.event
    if not isinstance(event, Command) or not event.arg:
        return False
    code = clean_code(event.arg)
    if code is None or not await use_code(ctx, code, JOINED_BY_LINK):
        show_menu(ctx, "teams.bad_code", code=event.arg[:24])
    return None


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
        ctx.send(
            Reply.with_buttons(
                ctx.t("teams.ask_code_only"),
                [ctx.button("followup.code_button", "fu:code"), menu_button(ctx)],
            )
        )
        return
    if not await offer_teams(ctx, "teams.ask_code"):
        ctx.say("teams.ask_code_only", menu_button(ctx))


@router.text()
async def typed_code(ctx: Context) -> bool | None:
    """A short text that is a team code or a member invite: use it. Anything else: pass."""
    event = ctx.event
    if not isinstance(event, TextMessage):
        return False
    code = _code_in(event.text)
    if code is None or not await is_code(ctx, code):
        return False
    await use_code(ctx, code, JOINED_BY_CODE)
    return None


@router.button("team:commune:")
async def pick_commune(ctx: Context) -> None:
    """A commune was chosen: offer its villages."""
    team_id = _arg(ctx, "team:commune:")
    team = await TeamRepo(ctx.session).get(team_id) if team_id is not None else None
    if team is None:
        show_menu(ctx, "fallback.stale")
        return
    await offer_villages(ctx, team.commune)


@router.button("team:pick:")
async def pick_village(ctx: Context) -> None:
    """A village was chosen: join its team."""
    team_id = _arg(ctx, "team:pick:")
    team = await TeamRepo(ctx.session).get(team_id) if team_id is not None else None
    if team is None:
        show_menu(ctx, "fallback.stale")
        return
    await join_team(ctx, team, JOINED_BY_CHOICE)


@router.button("team:skip")
async def skip_team(ctx: Context) -> None:
    """No village chosen: the bot works without a team."""
    show_menu(ctx, "teams.village_missing")


@router.button("team:choose")
async def choose_team(ctx: Context) -> None:
    """Offer the communes and villages again."""
    if not await offer_teams(ctx, "teams.ask_code"):
        ctx.say("teams.ask_code_only", menu_button(ctx))


@router.command("contact", "team")
@router.button("menu:contact")
async def contact_team(ctx: Context) -> bool | None:
    """ "Liên hệ tổ": the citizen's team and a way to send it a question (staff: their tools)."""
    if ctx.user.role in STAFF and isinstance(ctx.event, Command) and ctx.event.name == "team":
        return False  # the team tools (handlers/followup.py)
    team = await TeamRepo(ctx.session).team_of(ctx.user.id)
    buttons = [ctx.button("question.send_button", "tq:write")]
    if team is None:
        if await TeamRepo(ctx.session).communes():
            buttons.append(ctx.button("teams.choose_button", "team:choose"))
        ctx.send(Reply.with_buttons(ctx.t("teams.contact_no_team"), [*buttons, menu_button(ctx)]))
        return None
    ctx.send(
        Reply.with_buttons(
            ctx.t("teams.contact_team", **team_values(team)), [*buttons, menu_button(ctx)]
        )
    )
    return None
