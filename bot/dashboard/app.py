"""The dashboard as an aiohttp sub-application mounted at /quan-ly/ on the bot's web server."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.core.services import Services
from bot.dashboard import broadcasts, commune
from bot.dashboard.auth import SERVICES, guard
from bot.dashboard.render import TEMPLATES, configure
from bot.dashboard.views import routes

HERE = Path(__file__).parent
PREFIX = "/quan-ly"


async def stylesheet(request: web.Request) -> web.FileResponse:
    """The one stylesheet (no inline styles: the CSP forbids them)."""
    return web.FileResponse(HERE / "static" / "dash.css")


def dashboard_app(services: Services) -> web.Application:
    """The sub-application: templates autoescaped, every request through ``auth.guard``."""
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app[SERVICES] = services
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(default=True),
    )
    configure(env)
    app.router.add_routes(routes())
    app.router.add_routes(broadcasts.routes())
    app.router.add_routes(commune.routes())
    app.router.add_get("/static/dash.css", stylesheet)
    return app
