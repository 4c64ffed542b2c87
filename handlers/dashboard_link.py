""" "Mở trang quản lý": a staff user gets a one-time link to the web dashboard (bot/dashboard).

The link is valid ``LINK_MINUTES`` and works once; only its hash is stored. Citizens never get
one: the route is for staff only, and the handler checks the role again.
"""

from __future__ import annotations

from datetime import timedelta

from bot.core import files
from bot.core.context import Context
from bot.core.replies import Button
from bot.core.router import STAFF, Router
from handlers.menu import menu_button
from handlers.payloads import DashboardOpen
from storage.repos.dashboard import DashboardRepo

router = Router("dashboard_link")

LINK_MINUTES = 10
LOGIN_PATH = "/quan-ly/vao"


def dashboard_button(ctx: Context) -> Button:
    """The "Mở trang quản lý" button of the team tools."""
    return ctx.button("dashboard.open_button", DashboardOpen())


@router.button(DashboardOpen, roles=STAFF)
@router.command("dashboard", roles=STAFF)
async def open_dashboard(ctx: Context, _: DashboardOpen | None = None) -> None:
    """Send a one-time sign-in link to the dashboard."""
    if ctx.user.role not in STAFF:
        return
    token = await DashboardRepo(ctx.session).issue_link(
        ctx.user.id, ctx.services.clock(), timedelta(minutes=LINK_MINUTES)
    )
    link = f"{files.base_url(ctx.services.config)}{LOGIN_PATH}?t={token}"
    ctx.say("dashboard.link", menu_button(ctx), link=link, minutes=LINK_MINUTES)
