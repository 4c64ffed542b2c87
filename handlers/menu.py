"""Main menu, help and the "ask a question" prompt."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.replies import Button, Reply
from bot.core.router import STAFF, Router
from handlers.payloads import (
    AnswerShow,
    AskTopics,
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


MAX_TOPICS = 15  # entries listed for one group (one message on a text-only channel)


@router.button(MenuAsk)
async def ask_prompt(ctx: Context, _: MenuAsk) -> None:
    """Questions can simply be typed; or browse: the knowledge groups as choices."""
    groups = [g for g in ctx.content.groups if any(e.group == g.id for e in ctx.content.knowledge)]
    buttons = [ctx.labelled(g.title, AskTopics(g.id)) for g in groups]
    ctx.say("ask.prompt", *buttons, menu_button(ctx))


@router.button(AskTopics)
async def ask_topics(ctx: Context, pressed: AskTopics) -> None:
    """The topics (entry titles) of one group; pressing one shows its answer."""
    group = ctx.content.group(pressed.group) if pressed.group else None
    entries = [e for e in ctx.content.knowledge if group is not None and e.group == group.id]
    if group is None or not entries:
        await ask_prompt(ctx, MenuAsk())
        return
    buttons = [ctx.labelled(e.title, AnswerShow(e.id)) for e in entries[:MAX_TOPICS]]
    buttons += [ctx.button("ask.other_topics", MenuAsk()), menu_button(ctx)]
    ctx.say("ask.topics", *buttons, title=group.title)


@router.command("help")
async def help_command(ctx: Context) -> None:
    """How to use the bot."""
    show_menu(ctx, "help.text")
