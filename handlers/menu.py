"""Main menu, help, "ask a question" prompt and team contact."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.replies import Button, Reply
from bot.core.router import STAFF, Router

router = Router("menu")


def menu_buttons(ctx: Context) -> list[Button]:
    """The four main menu buttons, and the team tools for team members."""
    buttons = [
        ctx.button("menu.ask", "menu:ask"),
        ctx.button("menu.lessons", "lesson:list"),
        ctx.button("menu.progress", "progress:show"),
        ctx.button("menu.contact", "menu:contact"),
        ctx.button("scam.menu", "scam:start"),
    ]
    if ctx.user.role in STAFF:
        buttons.append(ctx.button("menu.team_tools", "fu:home"))
    return buttons


def show_menu(ctx: Context, text_key: str = "menu.title", **values: str) -> None:
    """Reply with a text and the main menu under it."""
    ctx.send(Reply.with_buttons(ctx.t(text_key, **values), menu_buttons(ctx)))


def menu_button(ctx: Context) -> Button:
    """A single "Menu" button, to put under replies that end a path."""
    return ctx.button("menu.button", "menu:show")


@router.command("menu")
@router.button("menu:show")
async def menu(ctx: Context) -> None:
    """Show the main menu."""
    show_menu(ctx)


@router.button("menu:ask")
async def ask_prompt(ctx: Context) -> None:
    """Explain that questions can simply be typed."""
    ctx.say("ask.prompt", menu_button(ctx))


@router.command("help")
async def help_command(ctx: Context) -> None:
    """How to use the bot."""
    show_menu(ctx, "help.text")


@router.command("contact")
@router.button("menu:contact")
async def contact(ctx: Context) -> None:
    """How to reach the community digital technology team."""
    ctx.say("contact.generic", menu_button(ctx))
