"""``GET /files/<token>/<name>``: report files (CSV, charts) on the bot's HTTP server.

The files live in ``teams.file_dir`` with their tokens in the database (``bot/core/files.py``),
so any bot process sharing both serves any of them; an unknown, mistyped or expired link gets
404, a valid one whose file is gone 410, each with a sentence for the citizen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.core.ports import FileMissing

if TYPE_CHECKING:
    from bot.core.ports import Core

ROUTE = "/files/{token}/{name}"


def file_routes(core: Core) -> list[web.RouteDef]:
    """``GET /files/<token>/<name>``: the file, while it is valid."""

    async def download(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            shared = await core.file(f"{request.match_info['token']}/{name}")
        except FileMissing:
            raise web.HTTPGone(text=core.messages("files.missing")) from None
        if shared is None or shared.name != name:
            text = core.messages("files.expired")
            raise web.HTTPNotFound(text=text)
        inline = shared.content_type.startswith("image/")
        disposition = "inline" if inline else "attachment"
        return web.Response(
            body=shared.data,
            content_type=shared.content_type.split(";")[0],
            charset="utf-8" if shared.content_type.startswith("text/") else None,
            headers={
                "Content-Disposition": f'{disposition}; filename="{shared.name}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    return [web.get(ROUTE, download)]
