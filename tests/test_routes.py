"""One owner per event: a second registration of an event key fails start-up naming both
handlers; conditions (roles, flow, ``when=``) are part of the registration."""

from __future__ import annotations

import pytest

from bot.app import build_app
from bot.config import Config
from bot.core.context import Context
from bot.core.router import CITIZEN, STAFF, DuplicateRoute, Router, Routes
from handlers import all_routers
from handlers.payloads import ConsentYes
from storage.db import Database


def test_the_bots_routes_have_one_owner_each() -> None:
    routes = Routes(all_routers())
    keys = [(r.kind, r.key, r.flow, r.when is None, r.rank, r.roles) for r in routes.all]
    assert len(keys) == len(set(keys))


def test_a_second_button_owner_fails_naming_both() -> None:
    extra = Router("extra")

    @extra.button(ConsentYes)
    async def also_consent(ctx: Context, _: ConsentYes) -> None:
        """A second owner of "Đồng ý"."""

    with pytest.raises(DuplicateRoute, match=r"start\.consent_yes.*extra\.also_consent"):
        Routes([*all_routers(), extra])


def test_a_second_command_or_text_owner_fails() -> None:
    first, second = Router("first"), Router("second")

    @first.command("hello")
    async def one(ctx: Context) -> None:
        """One."""

    @second.command("hello")
    async def two(ctx: Context) -> None:
        """Two."""

    with pytest.raises(DuplicateRoute, match=r"command hello .*first\.one.*second\.two"):
        Routes([first, second])

    @first.text()
    async def text_one(ctx: Context) -> None:
        """Text."""

    with pytest.raises(DuplicateRoute, match=r"text .*answers\.answer_question.*first\.text_one"):
        Routes([*all_routers(), first])


def test_disjoint_roles_or_a_condition_are_not_duplicates() -> None:
    router = Router("split")

    @router.command("tools", roles=CITIZEN)
    async def citizens(ctx: Context) -> None:
        """Citizens."""

    @router.command("tools", roles=STAFF)
    async def staff(ctx: Context) -> None:
        """Staff."""

    @router.command("tools", when=lambda ctx: bool(ctx.user.display_name))
    async def named(ctx: Context) -> None:
        """A conditional handler, tried first."""

    Routes([router])


async def test_start_up_fails_on_a_duplicate(
    config: Config, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = Router("extra")

    @extra.command("start")
    async def greet(ctx: Context) -> None:
        """A second /start."""

    monkeypatch.setattr("bot.app.all_routers", lambda: [*all_routers(), extra])
    with pytest.raises(DuplicateRoute, match=r"start\.start.*extra\.greet"):
        build_app(config, db=db)


def test_conditional_handlers_of_one_key_need_distinct_ranks() -> None:
    first, second = Router("first"), Router("second")

    @first.text(when=lambda ctx: True)
    async def one(ctx: Context) -> None:
        """One."""

    @second.text(when=lambda ctx: True)
    async def two(ctx: Context) -> None:
        """Two."""

    with pytest.raises(DuplicateRoute, match=r"first\.one.*second\.two"):
        Routes([first, second])
    third = Router("third")

    @third.text(when=lambda ctx: True, rank=5)
    async def three(ctx: Context) -> None:
        """Three, tried after the others."""

    routes = Routes([first, third])
    assert [r.owner for r in routes._of("text")] == ["first.one", "third.three"]
