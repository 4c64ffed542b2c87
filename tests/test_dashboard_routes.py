"""Every dashboard route is in the authorization tests' lists (``test_dashboard.PAGES`` and
``POSTS``), so a new page cannot skip the checks for a session, a team's scope and CSRF."""

from __future__ import annotations

from bot.app import App
from bot.dashboard.auth import PUBLIC
from tests.test_dashboard import PAGES, POSTS


def test_every_route_is_checked(app: App) -> None:
    dashboard = app.web_app()
    found: set[tuple[str, str]] = set()
    for resource in dashboard.router.resources():
        sub = getattr(resource, "_app", None)
        if sub is None or not resource.canonical.startswith("/quan-ly"):
            continue
        for inner in sub.router.resources():
            path = inner.canonical
            for route in inner:
                if route.method in ("GET", "POST"):
                    found.add((route.method, path))
    assert found, "the dashboard is mounted at /quan-ly/"
    listed = {("GET", p) for p in [*PAGES, "/quan-ly/quan-tri"]} | {("POST", p) for p in POSTS}
    public = {(m, p) for m, p in found if p in PUBLIC}
    assert found - public - listed == set()
    assert public == {
        ("GET", "/quan-ly/vao"),
        ("POST", "/quan-ly/vao"),
        ("GET", "/quan-ly/static/dash.css"),
    }
