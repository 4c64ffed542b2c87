"""Welcome and consent (Nghị định 13/2023/NĐ-CP): nothing personal is kept before "Đồng ý".

Two extension points let other features take part without touching these replies:
``BEFORE_CONSENT`` sees every event of a user who has not agreed yet (the gate then shows the
notice), and ``AFTER_CONSENT`` runs once a user agrees; the first that leads the user on
(returns True) replaces the menu shown otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.context import Context
from bot.core.events import Command, TextMessage
from bot.core.flows import Flow
from bot.core.router import Hook, Router
from handlers.menu import show_menu
from handlers.payloads import CONSENT, ConsentDetails, ConsentNo, ConsentYes, NameSkip
from storage.models import utcnow

router = Router("start")

BEFORE_CONSENT: Hook[Callable[[Context], Awaitable[None]]] = Hook("start.before_consent")
AFTER_CONSENT: Hook[Callable[[Context], Awaitable[bool]]] = Hook("start.after_consent")


def _name(ctx: Context) -> str:
    name = ctx.event.sender.display_name or ctx.user.display_name
    return f" {name.strip()}" if name and name.strip() else ""


def ask_consent(ctx: Context, *, first: bool) -> None:
    """The welcome with the privacy notice and the consent buttons."""
    if first:
        ctx.say("welcome.new", name=_name(ctx))
    ctx.say(
        "welcome.privacy" if first else "welcome.need_consent",
        ctx.button("welcome.agree", ConsentYes()),
        ctx.button("welcome.disagree", ConsentNo()),
        ctx.button("welcome.details", ConsentDetails()),
    )


@router.gate()
async def require_consent(ctx: Context) -> bool:
    """Before consent, only the consent buttons work; anything else shows the notice."""
    if ctx.user.consent_at is not None:
        return False
    for before in ctx.extensions(BEFORE_CONSENT):
        await before(ctx)
    if isinstance(ctx.pressed, CONSENT):
        return False
    asked = ConsentYes().pack()
    already_shown = any(offered.payload == asked for offered in ctx.offered)
    ask_consent(ctx, first=not already_shown or isinstance(ctx.event, Command))
    return True


@router.command("start")
async def start(ctx: Context) -> None:
    """Greet a returning user with the menu."""
    show_menu(ctx, "welcome.back", name=_name(ctx))


@router.button(ConsentYes)
async def consent_yes(ctx: Context, _: ConsentYes) -> None:
    """Record consent, keep the display name from now on, then the menu (or what a feature
    subscribed to ``AFTER_CONSENT`` offers instead)."""
    newly = ctx.user.consent_at is None
    if newly:
        ctx.user.consent_at = utcnow()
        if ctx.event.sender.display_name:
            ctx.user.display_name = ctx.event.sender.display_name[:128]
    ctx.say("welcome.consented")
    web = ctx.event.sender.channel == "web"  # the web gives no name: "Người dùng #1" to members
    if newly and web and not ctx.user.display_name:
        ctx.enter(NAME_FLOW, Naming())
        ctx.say("welcome.ask_name", ctx.button("welcome.skip_name", NameSkip()))
        return
    if newly:
        await _after_consent(ctx)
        return
    show_menu(ctx)


async def _after_consent(ctx: Context) -> None:
    """What features offer once a user agrees (the first that leads on), else the menu."""
    for after in ctx.extensions(AFTER_CONSENT):
        if await after(ctx):
            return
    show_menu(ctx)


@dataclass
class Naming:
    """Asked once, right after consent, for the name the team will see (optional)."""


NAME_FLOW = router.flow(Flow("ask_name", Naming, keeps=(NameSkip,)))
MAX_NAME = 40


def _naming(ctx: Context) -> bool:
    return ctx.flow_data(NAME_FLOW) is not None


@router.text(flow=NAME_FLOW, when=_naming)
async def typed_name(ctx: Context) -> None:
    """The name typed after consent: kept as the display name; then on as after consent."""
    assert isinstance(ctx.event, TextMessage)
    name = " ".join(ctx.event.text.split())
    if not name or len(name) > MAX_NAME or not any(c.isalpha() for c in name):
        ctx.say("welcome.bad_name", ctx.button("welcome.skip_name", NameSkip()), max=MAX_NAME)
        return
    ctx.leave()
    ctx.user.display_name = name
    ctx.say("welcome.named", name=name)
    await _after_consent(ctx)


@router.button(NameSkip)
async def skip_name(ctx: Context, _: NameSkip) -> None:
    """No name: fine; on as after consent."""
    if not ctx.in_flow(NAME_FLOW):
        show_menu(ctx)
        return
    ctx.leave()
    await _after_consent(ctx)


@router.button(ConsentNo)
async def consent_no(ctx: Context, _: ConsentNo) -> None:
    """Forget the user entirely when they do not consent (or withdraw before using the bot)."""
    if ctx.user.consent_at is not None:
        show_menu(ctx)
        return
    await ctx.session.delete(ctx.state)
    await ctx.session.delete(ctx.user)
    await ctx.session.flush()
    ctx.say("welcome.declined")


@router.button(ConsentDetails)
@router.command("privacy")
async def privacy_details(ctx: Context, _: ConsentDetails | None = None) -> None:
    """The full privacy notice."""
    if ctx.user.consent_at is None:
        ctx.say("welcome.privacy_detail")
        ask_consent(ctx, first=False)
    else:
        show_menu(ctx, "welcome.privacy_detail")
