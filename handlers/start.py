"""Welcome and consent (Nghị định 13/2023/NĐ-CP): nothing personal is kept before "Đồng ý"."""

from __future__ import annotations

from sqlalchemy import inspect

from bot.core.context import Context
from bot.core.events import ButtonPress, Command
from bot.core.replies import Reply
from bot.core.router import Router
from handlers.menu import show_menu
from storage.models import utcnow

router = Router("start")

CONSENT_PAYLOADS = ("consent:",)


def _name(ctx: Context) -> str:
    name = ctx.event.sender.display_name or ctx.user.display_name
    return f" {name.strip()}" if name and name.strip() else ""


def ask_consent(ctx: Context, *, first: bool) -> None:
    """The welcome with the privacy notice and the consent buttons."""
    if first:
        ctx.say("welcome.new", name=_name(ctx))
    ctx.send(
        Reply.with_buttons(
            ctx.t("welcome.privacy") if first else ctx.t("welcome.need_consent"),
            [
                ctx.button("welcome.agree", "consent:yes"),
                ctx.button("welcome.disagree", "consent:no"),
                ctx.button("welcome.details", "consent:details"),
            ],
        )
    )


def user_deleted(ctx: Context) -> bool:
    """Whether the user was deleted during this event (their data is gone)."""
    return bool(inspect(ctx.user).deleted or inspect(ctx.user).was_deleted)


@router.guard()
async def require_consent(ctx: Context) -> bool:
    """Before consent, only the consent buttons work; anything else shows the notice."""
    if ctx.user.consent_at is not None:
        return False
    event = ctx.event
    if isinstance(event, ButtonPress) and event.payload.startswith(CONSENT_PAYLOADS):
        return False
    already_shown = any(item[2] == "consent:yes" for item in ctx.state.last_buttons)
    ask_consent(ctx, first=not already_shown or isinstance(event, Command))
    return True


@router.command("start")
async def start(ctx: Context) -> None:
    """Greet a returning user with the menu."""
    show_menu(ctx, "welcome.back", name=_name(ctx))


@router.button("consent:yes")
async def consent_yes(ctx: Context) -> None:
    """Record consent, keep the display name from now on, and show the menu."""
    if ctx.user.consent_at is None:
        ctx.user.consent_at = utcnow()
        if ctx.event.sender.display_name:
            ctx.user.display_name = ctx.event.sender.display_name[:128]
    ctx.say("welcome.consented")
    show_menu(ctx)


@router.button("consent:no")
async def consent_no(ctx: Context) -> None:
    """Forget the user entirely when they do not consent (or withdraw before using the bot)."""
    if ctx.user.consent_at is not None:
        show_menu(ctx)
        return
    await ctx.session.delete(ctx.state)
    await ctx.session.delete(ctx.user)
    await ctx.session.flush()
    ctx.say("welcome.declined")


@router.button("consent:details")
@router.command("privacy")
async def privacy_details(ctx: Context) -> None:
    """The full privacy notice."""
    if ctx.user.consent_at is None:
        ctx.say("welcome.privacy_detail")
        ask_consent(ctx, first=False)
    else:
        show_menu(ctx, "welcome.privacy_detail")
