"""Whatever no feature took: unknown commands, text nobody understood, stale buttons, stickers."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.events import Command, TextMessage
from bot.core.router import Router
from handlers.menu import show_menu

router = Router("fallback")


@router.stale()
async def stale_button(ctx: Context) -> None:
    """A button that is no longer offered: say so and show the menu."""
    show_menu(ctx, "fallback.stale")


@router.unsupported()
async def unsupported(ctx: Context) -> None:
    """Images, stickers, voice: explain kindly what the bot understands."""
    show_menu(ctx, "fallback.unsupported")


@router.fallback()
async def not_understood(ctx: Context) -> None:
    """Anything else: an unknown command or text nobody handled."""
    if isinstance(ctx.event, Command):
        show_menu(ctx, "fallback.command")
    elif isinstance(ctx.event, TextMessage) and not ctx.event.text:
        show_menu(ctx, "fallback.empty")
    else:
        show_menu(ctx, "fallback.unknown")
