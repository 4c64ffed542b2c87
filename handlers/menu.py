"""Main menu, help and the "ask a question" prompt."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.replies import Button, Reply
from bot.core.router import STAFF, Router
from handlers.payloads import (
    LessonList,
    MenuAsk,
    MenuContact,
    MenuShow,
    ProgressShow,
    ScamStart,
    TeamHome,
)

router = Router("menu")


def menu_buttons(ctx: Context) -> list[Button]:
    """The main menu buttons, and the team tools for team members."""
    buttons = [
        ctx.button("menu.ask", MenuAsk()),
        ctx.button("menu.lessons", LessonList()),
        ctx.button("menu.progress", ProgressShow()),
        ctx.button("menu.contact", MenuContact()),
        ctx.button("scam.menu", ScamStart()),
    ]
    if ctx.user.role in STAFF:
        buttons.append(ctx.button("menu.team_tools", TeamHome()))
    return buttons


def show_menu(ctx: Context, text_key: str = "menu.title", **values: str) -> None:
    """Reply with a text and the main menu under it."""
    ctx.send(Reply(text=ctx.t(text_key, **values), buttons=tuple(menu_buttons(ctx)), key=text_key))


def menu_button(ctx: Context) -> Button:
    """A single "Menu" button, to put under replies that end a path."""
    return ctx.button("menu.button", MenuShow())


@router.button(MenuShow)
@router.command("menu")
async def menu(ctx: Context, _: MenuShow | None = None) -> None:
    """Show the main menu."""
    show_menu(ctx)


@router.button(MenuAsk)
async def ask_prompt(ctx: Context, _: MenuAsk) -> None:
    """Explain that questions can simply be typed."""
    ctx.say("ask.prompt", menu_button(ctx))


@router.command("help")
async def help_command(ctx: Context) -> None:
    """How to use the bot."""
    show_menu(ctx, "help.text")
