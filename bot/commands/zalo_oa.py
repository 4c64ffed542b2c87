"""``trolyso zalo-oa add|list|remove|connect``: the Zalo Official Accounts of this deployment.

``add`` stores an OA from a refresh token (from the Zalo console or an earlier connection) and
refreshes it at once, so a bad token fails here; ``connect`` prints the OAuth v4 permission
link (with PKCE) that an OA admin opens; ``GET /zalo-oa/oauth`` on the running bot completes it
and stores the OA. What these commands print is for admins, in Vietnamese; tokens never.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from bot.config import Config

if TYPE_CHECKING:
    from bot.zalo_oa import Accounts

T = TypeVar("T")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``zalo-oa``."""
    oa = sub.add_parser("zalo-oa", help="Zalo Official Accounts: add, list, remove, connect")
    actions = oa.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="store an OA from its refresh token (refreshed at once)")
    add.add_argument("oa_id", metavar="OA_ID", help="the OA's id (Zalo OA Manager)")
    add.add_argument("--refresh-token", required=True, help="the OA's refresh token")
    add.add_argument(
        "--team", action="append", default=[], metavar="CODE", help="a team this OA serves"
    )
    add.set_defaults(handler=add_command)
    listing = actions.add_parser("list", help="stored OAs, token expiry, teams, last event")
    listing.set_defaults(handler=list_command)
    remove = actions.add_parser("remove", help="forget an OA and its tokens")
    remove.add_argument("oa_id", metavar="OA_ID")
    remove.set_defaults(handler=remove_command)
    connect = actions.add_parser("connect", help="print the permission link for an OA admin")
    connect.add_argument(
        "--team", action="append", default=[], metavar="CODE", help="a team this OA serves"
    )
    connect.set_defaults(handler=connect_command)


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _with_accounts(config: Config, work: Callable[[Accounts], Awaitable[T]]) -> T:
    """Run ``work`` with the accounts over the configured database (upgraded first)."""
    from bot.commands.run import prepare_database
    from bot.zalo_oa import accounts_from_config
    from storage.db import Database

    async def run() -> T:
        await prepare_database(config)
        db = Database(config.database.url)
        accounts = accounts_from_config(config, db)
        try:
            return await work(accounts)
        finally:
            await accounts.client.close()
            await db.dispose()

    return asyncio.run(run())


def _needs_app(config: Config) -> str | None:
    missing = [
        name
        for name, value in (
            ("ZALO_OA_APP_ID", config.secrets.zalo_oa_app_id),
            ("ZALO_OA_APP_SECRET", config.secrets.zalo_oa_app_secret),
            ("ZALO_OA_TOKEN_KEY", config.secrets.zalo_oa_token_key),
        )
        if not value
    ]
    if not missing:
        return None
    names = ", ".join(missing)
    return f"zalo-oa: thiếu biến môi trường {names} (xem README, mục Zalo Official Accounts)"


def add_command(config: Config, args: argparse.Namespace) -> int:
    """Store an OA and refresh its token at once."""
    from bot.channels.zalo_oa.api import OAError, OAuthError
    from bot.zalo_oa import TokenKeyError

    problem = _needs_app(config)
    if problem:
        return _fail(problem)
    oa_id = args.oa_id.strip()
    if not oa_id.isdigit() or len(oa_id) > 32:
        return _fail(
            "zalo-oa add: OA_ID phải là dãy số (mã OA trong Zalo OA Manager), "
            f"không phải {oa_id[:40]!r}"
        )
    try:
        connected = _with_accounts(
            config, lambda a: a.add(oa_id, args.refresh_token.strip(), args.team)
        )
    except LookupError as exc:
        return _fail(f"zalo-oa add: không có tổ nào mã {exc.args[0]}")
    except OAuthError:
        return _fail(
            "zalo-oa add: Zalo không nhận refresh token này (sai, đã dùng rồi, hoặc quá 3 tháng). "
            "Mỗi refresh token chỉ dùng được một lần: lấy token mới trong Zalo for Developers, "
            "hoặc chạy `trolyso zalo-oa connect` để OA cấp quyền lại."
        )
    except TokenKeyError as exc:
        return _fail(f"zalo-oa add: {exc}")
    except OAError as exc:
        return _fail(f"zalo-oa add: chưa gọi được Zalo ({exc}); thử lại sau ít phút.")
    teams = ", ".join(f"{t.name} ({t.code})" for t in connected.teams) or "chưa gắn tổ nào"
    if connected.oa_id != oa_id:
        print(f"Lưu ý: refresh token này là của OA {connected.oa_id}, không phải {oa_id}.")
    name = connected.name or "(chưa rõ tên)"
    print(f"Đã lưu Zalo OA {name} ({connected.oa_id}); tổ: {teams}.")
    print("Token đã được làm mới và lưu mã hóa trong cơ sở dữ liệu.")
    return 0


def list_command(config: Config, args: argparse.Namespace) -> int:
    """Every stored OA: name, token expiry, teams, last event."""
    from storage.repos.zalo_oa import ZaloOARepo

    async def rows(accounts: Accounts) -> list[tuple[str, str, str, str, str, str]]:
        out = []
        async with accounts.db.transaction() as session:
            repo = ZaloOARepo(session)
            for oa in await repo.all():
                teams = ", ".join(t.code for t in await repo.teams(oa.oa_id)) or "-"
                last = oa.last_event_at.strftime("%Y-%m-%d %H:%M") if oa.last_event_at else "-"
                expiry = oa.expires_at.strftime("%Y-%m-%d %H:%M")
                out.append((oa.oa_id, oa.name or "-", expiry, teams, last, oa.problem or ""))
        return out

    found = _with_accounts(config, rows)
    if not found:
        print(
            "Chưa có Zalo OA nào. Thêm bằng `trolyso zalo-oa connect` hoặc `trolyso zalo-oa add`."
        )
        return 0
    print("OA_ID | Tên | Token hết hạn (UTC) | Tổ | Sự kiện cuối (UTC)")
    for oa_id, name, expiry, teams, last, problem in found:
        line = f"{oa_id} | {name} | {expiry} | {teams} | {last}"
        if problem:
            line += " | LỖI: refresh token bị từ chối, chạy `trolyso zalo-oa connect`"
        print(line)
    return 0


def remove_command(config: Config, args: argparse.Namespace) -> int:
    """Forget an OA."""
    gone = _with_accounts(config, lambda a: a.remove(args.oa_id.strip()))
    if not gone:
        return _fail(f"zalo-oa remove: không có OA {args.oa_id[:40]}")
    print(f"Đã xóa Zalo OA {args.oa_id} cùng token của nó.")
    return 0


def connect_command(config: Config, args: argparse.Namespace) -> int:
    """Print the OAuth v4 permission link (PKCE, single-use state for ten minutes)."""
    from bot.zalo_oa import TokenKeyError, redirect_url

    problem = _needs_app(config)
    if problem:
        return _fail(problem)
    redirect = redirect_url(config)
    try:
        link = _with_accounts(config, lambda a: a.start_connect(redirect, args.team))
    except LookupError as exc:
        return _fail(f"zalo-oa connect: không có tổ nào mã {exc.args[0]}")
    except TokenKeyError as exc:
        return _fail(f"zalo-oa connect: {exc}")
    print("Gửi liên kết này cho quản trị viên của Zalo OA (dùng được một lần, trong 10 phút):")
    print(link)
    print(f"Sau khi bấm Cho phép, Zalo chuyển về {redirect} và Trợ lý số lưu OA.")
    if not redirect.startswith("https://"):
        print(
            "Lưu ý: Zalo cần địa chỉ https công khai; đặt web.public_url hoặc zalo_oa.redirect_url "
            "và khai báo đúng địa chỉ đó là Callback URL của ứng dụng Zalo."
        )
    return 0
