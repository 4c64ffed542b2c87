"""``trolyso team add|list|show|add-member|remove-member|add-admin|qr`` and ``trolyso report``.

Admins manage teams from the command line; team state lives in the database. A member joins
by typing the one-time code ``add-member`` prints (or opening its Telegram link); ``qr`` writes a
printable PNG for the village notice board; ``report`` prints a team's summary and who needs
help, and writes the citizens x skills CSV.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.commands.db import session_for
from bot.config import Config

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.content.messages import Messages
    from storage.models import Team, User

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``team`` and ``report``."""
    team = sub.add_parser(
        "team", help="tổ công nghệ số: tạo tổ, danh sách, thành viên, áp phích mã QR"
    )
    actions = team.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="tạo một tổ")
    add.add_argument("name", help='tên tổ, ví dụ "Tổ công nghệ số thôn Đông"')
    add.add_argument("--commune", required=True, help="xã/phường của tổ")
    add.add_argument("--village", required=True, help="thôn/tổ dân phố của tổ")
    add.add_argument("--code", help="mã tham gia muốn dùng (mặc định: mã ngẫu nhiên 6 ký tự)")
    add.set_defaults(handler=add_command)

    listing = actions.add_parser("list", help="mọi tổ, kèm mã và số người")
    listing.set_defaults(handler=list_command)

    show = actions.add_parser(
        "show", help="thành viên, mã mời chưa dùng và câu hỏi đang chờ của một tổ"
    )
    show.add_argument("code", help="mã tham gia của tổ")
    show.set_defaults(handler=show_command)

    member = actions.add_parser(
        "add-member", help="in mã mời thành viên dùng một lần (hoặc nâng quyền một người đã có)"
    )
    member.add_argument("code", help="mã tham gia của tổ")
    member.add_argument("--lead", action="store_true", help="làm tổ trưởng")
    member.add_argument(
        "--commune",
        action="store_true",
        help="làm cán bộ xã/phường: trang quản lý hiện mọi tổ của xã/phường",
    )
    member.add_argument("--user", metavar="CHANNEL:ID", help="nâng quyền thẳng cho người dùng này")
    member.set_defaults(handler=add_member_command)

    remove = actions.add_parser(
        "remove-member", help="cho một thành viên rời tổ, hoặc hủy mã mời chưa dùng"
    )
    remove.add_argument("code", help="mã tham gia của tổ")
    remove.add_argument("who", help="số người dùng, KÊNH:MÃ, hoặc mã mời chưa dùng")
    remove.set_defaults(handler=remove_member_command)

    admin = actions.add_parser("add-admin", help="in mã mời quản trị viên dùng một lần")
    admin.add_argument("--user", metavar="CHANNEL:ID", help="nâng quyền thẳng cho người dùng này")
    admin.set_defaults(handler=add_admin_command)

    contact = actions.add_parser(
        "contact", help="xem hoặc sửa cách người dân liên hệ tổ (hiện trong chat và trên tờ QR)"
    )
    contact.add_argument("code", help="mã tham gia của tổ")
    contact.add_argument("--phone", help='số điện thoại/Zalo, ví dụ "0912 345 678" ("" để xóa)')
    contact.add_argument("--place", help='nơi gặp tổ, ví dụ "Nhà văn hóa thôn Đông"')
    contact.add_argument("--hours", help='giờ gặp, ví dụ "19:00-21:00 tối thứ Bảy"')
    contact.set_defaults(handler=contact_command)

    qr = actions.add_parser("qr", help="tạo ảnh PNG có mã QR của tổ để in")
    qr.add_argument("code", help="mã tham gia của tổ")
    qr.add_argument("--out", type=Path, help="tệp PNG để ghi (mặc định: to-MÃ.png)")
    qr.set_defaults(handler=qr_command)

    report = sub.add_parser("report", help="báo cáo theo dõi của một tổ (và bảng CSV)")
    scope = report.add_mutually_exclusive_group(required=True)
    scope.add_argument("--team", metavar="CODE", help="mã tham gia của tổ")
    scope.add_argument("--all", action="store_true", help="mọi người dân của mọi tổ")
    report.add_argument(
        "--csv", type=Path, metavar="FILE", help="ghi bảng người dân × kỹ năng vào tệp này"
    )
    report.set_defaults(handler=report_command)


ROLES = {"member": "thành viên", "lead": "tổ trưởng", "admin": "quản trị viên"}


def _role(role: str) -> str:
    """A role as admins read it in the guide."""
    return ROLES.get(role, role)


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _messages(config: Config) -> Messages:
    from bot.content.messages import messages_from

    return messages_from(config.path(config.content.dir))


async def _team(session: AsyncSession, code: str) -> Team | None:
    from storage.repos.teams import TeamRepo

    return await TeamRepo(session).by_code(code)


async def _find_user(session: AsyncSession, who: str) -> User | None:
    """A user by id or ``channel:external_id``."""
    from storage.repos.users import UserRepo

    users = UserRepo(session)
    if who.isdigit():
        return await users.get(int(who))
    channel, sep, external_id = who.partition(":")
    return await users.find(channel, external_id) if sep else None


def _run(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


# --- team ------------------------------------------------------------------------------------


async def _add(config: Config, args: argparse.Namespace) -> int:
    from storage.repos.teams import TeamRepo

    async with session_for(config) as session:
        try:
            team = await TeamRepo(session).create(args.name, args.commune, args.village, args.code)
        except ValueError as exc:
            return _fail(f"team add: {exc}")
        print(f"Đã tạo tổ {team.name!r} ({team.village}, {team.commune})")
        print(f"Mã tham gia: {team.code}")
        link = await telegram_link(config, team.code)
        if link:
            print(f"Liên kết Telegram: {link}")
        print(f"Áp phích: trolyso team qr {team.code}")
    return 0


def add_command(config: Config, args: argparse.Namespace) -> int:
    """Create a team."""
    return _run(_add(config, args))


async def _list(config: Config, args: argparse.Namespace) -> int:
    from storage.repos.teams import QuestionRepo, TeamRepo

    async with session_for(config) as session:
        repo = TeamRepo(session)
        teams = await repo.all()
        sizes = await repo.sizes()
        waiting = await QuestionRepo(session).open_counts()
        admin_queue = waiting.get(None, 0)
        print(f"Câu hỏi chờ quản trị viên: {admin_queue} (người dân chưa vào tổ nào)")
        if not teams:
            print("Chưa có tổ nào: trolyso team add TÊN --commune XÃ --village THÔN")
        for team in teams:
            citizens, staff = sizes.get(team.id, (0, 0))
            print(
                f"{team.code}  {team.name} ({team.village}, {team.commune}): "
                f"{citizens} người dân, {staff} thành viên, "
                f"{waiting.get(team.id, 0)} câu hỏi đang chờ"
            )
    return 0


def list_command(config: Config, args: argparse.Namespace) -> int:
    """List teams."""
    return _run(_list(config, args))


async def _show(config: Config, args: argparse.Namespace) -> int:
    from storage.repos.teams import QuestionRepo, TeamRepo

    async with session_for(config) as session:
        team = await _team(session, args.code)
        if team is None:
            return _fail(f"team show: không có tổ nào mã {args.code}")
        repo = TeamRepo(session)
        print(f"{team.name} ({team.village}, {team.commune}), mã tham gia {team.code}")
        print(f"Người dân: {await repo.citizen_count(team.id)}")
        staff = await repo.staff(team.id)
        print(f"Thành viên ({len(staff)}):")
        for user in staff:
            name = user.display_name or "-"
            print(f"  #{user.id} {_role(user.role):13} {user.channel}:{user.external_id} {name}")
        for invite in await repo.open_invites(team.id):
            until = invite.expires_at.strftime("%Y-%m-%d")
            print(f"  mã mời {_role(invite.role)} chưa dùng: {invite.code} (hạn {until})")
        waiting = await QuestionRepo(session).open_count(team.id)
        print(f"Câu hỏi đang chờ: {waiting}")
    return 0


def show_command(config: Config, args: argparse.Namespace) -> int:
    """Show one team."""
    return _run(_show(config, args))


async def _print_invite(config: Config, code: str, role: str, days: int) -> None:
    print(f"Mã mời {_role(role)}: {code} (dùng một lần, trong {days} ngày)")
    print("Người được mời gõ mã này vào khung chat với Trợ lý số (Zalo, Telegram, trang web).")
    link = await telegram_link(config, code)
    if link:
        print(f"Hoặc mở trên Telegram: {link}")


async def _add_member(config: Config, args: argparse.Namespace) -> int:
    from storage.models.teams import JOINED_BY_INVITE
    from storage.repos.teams import TeamRepo

    role = "commune" if args.commune else "lead" if args.lead else "member"
    async with session_for(config) as session:
        team = await _team(session, args.code)
        if team is None:
            return _fail(f"team add-member: không có tổ nào mã {args.code}")
        repo = TeamRepo(session)
        if args.user:
            user = await _find_user(session, args.user)
            if user is None:
                return _fail(f"team add-member: không có người dùng {args.user}")
            if user.role != "admin":
                user.role = role
            await repo.join(user.id, team.id, JOINED_BY_INVITE)
            print(f"Người dùng #{user.id} nay là {_role(user.role)} của {team.name}")
            return 0
        days = config.teams.invite_days
        invite = await repo.invite(team.id, role, timedelta(days=days))
        await _print_invite(config, invite.code, role, days)
    return 0


def add_member_command(config: Config, args: argparse.Namespace) -> int:
    """Add a member or lead to a team."""
    return _run(_add_member(config, args))


async def _remove_member(config: Config, args: argparse.Namespace) -> int:
    from storage.repos.teams import TeamRepo

    async with session_for(config) as session:
        team = await _team(session, args.code)
        if team is None:
            return _fail(f"team remove-member: không có tổ nào mã {args.code}")
        repo = TeamRepo(session)
        user = await _find_user(session, args.who)
        if user is not None and await repo.remove_member(team.id, user):
            print(f"Người dùng #{user.id} không còn là thành viên của {team.name}")
            return 0
        invites = {i.code for i in await repo.open_invites(team.id)}
        if user is None and args.who.upper() in invites:
            await repo.revoke(args.who)
            print(f"Đã hủy mã {args.who.upper()}")
            return 0
        return _fail(f"team remove-member: {args.who} không phải thành viên của {team.name}")


def remove_member_command(config: Config, args: argparse.Namespace) -> int:
    """Remove a member from a team, or revoke a member code."""
    return _run(_remove_member(config, args))


async def _add_admin(config: Config, args: argparse.Namespace) -> int:
    from storage.repos.teams import TeamRepo

    async with session_for(config) as session:
        if args.user:
            user = await _find_user(session, args.user)
            if user is None:
                return _fail(f"team add-admin: không có người dùng {args.user}")
            user.role = "admin"
            print(f"Người dùng #{user.id} nay là quản trị viên")
            return 0
        days = config.teams.invite_days
        invite = await TeamRepo(session).invite(None, "admin", timedelta(days=days))
        await _print_invite(config, invite.code, "admin", days)
    return 0


def add_admin_command(config: Config, args: argparse.Namespace) -> int:
    """Make someone an admin."""
    return _run(_add_admin(config, args))


# --- QR poster -------------------------------------------------------------------------------


async def bot_username(config: Config) -> str | None:
    """The Telegram bot's username: ``teams.telegram_bot``, else asked from Telegram (getMe)
    when ``TELEGRAM_BOT_TOKEN`` is set; None when unknown."""
    configured = config.teams.telegram_bot.lstrip("@")
    if configured:
        return configured
    token = config.secrets.telegram_token
    if not token:
        return None
    import aiohttp

    url = f"{config.telegram.base_url}{token}/getMe"
    try:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as response:
            data = await response.json()
        username = data.get("result", {}).get("username") if data.get("ok") else None
    except Exception as exc:  # network trouble: the poster falls back to the code
        log.warning("could not ask Telegram for the bot's name (%s)", type(exc).__name__)
        return None
    return username if isinstance(username, str) and username else None


async def telegram_link(config: Config, code: str) -> str | None:
    """``https://t.me/<bot>?start=<code>`` when the bot's username is known."""
    username = await bot_username(config)
    return f"https://t.me/{username}?start={code}" if username else None


async def _contact(config: Config, args: argparse.Namespace) -> int:
    from bot.reports.text import contact_lines
    from storage.repos.teams import TeamRepo

    async with session_for(config) as session:
        team = await _team(session, args.code)
        if team is None:
            return _fail(f"team contact: không có tổ nào mã {args.code}")
        for field in ("phone", "place", "hours"):
            value = getattr(args, field)
            if value is not None and not await TeamRepo(session).set_contact(team, field, value):
                return _fail(f"team contact: --{field} không hợp lệ: {value!r}")
        lines = contact_lines(team, _messages(config))
        print(f"{team.name} ({team.code}):")
        print("\n".join(f"  {line}" for line in lines) or "  (chưa có thông tin liên hệ)")
    return 0


def contact_command(config: Config, args: argparse.Namespace) -> int:
    """Show or set the team's contact."""
    return _run(_contact(config, args))


async def _qr_target(config: Config, code: str) -> tuple[Team | None, str | None, str | None]:
    """The team, the QR code's link, and the name of the Zalo OA serving it (if any): a team
    on an OA gets the OA's link (``https://zalo.me/<OA_ID>``), others the Telegram deep link."""
    from storage.repos.zalo_oa import ZaloOARepo

    async with session_for(config) as session:
        team = await _team(session, code)
        oa = await ZaloOARepo(session).of_team(team.id) if team is not None else None
    if team is None:
        return None, None, None
    if oa is not None:
        return team, f"https://zalo.me/{oa.oa_id}", oa.name or f"Zalo OA {oa.oa_id}"
    return team, await telegram_link(config, team.code), None


def qr_command(config: Config, args: argparse.Namespace) -> int:
    """Write the team's QR poster."""
    from bot.reports.poster import poster_png

    team, link, oa_name = asyncio.run(_qr_target(config, args.code))
    if team is None:
        return _fail(f"team qr: không có tổ nào mã {args.code}")
    try:
        png = poster_png(config, _messages(config), team, link, oa_name)
    except FileNotFoundError as exc:
        return _fail(f"team qr: {exc}")
    out: Path = args.out or Path(f"to-{team.code}.png")
    out.write_bytes(png)
    print(f"Đã ghi áp phích vào {out} (mã QR: {link or team.code})")
    return 0


# --- report ----------------------------------------------------------------------------------


async def _report(config: Config, args: argparse.Namespace) -> tuple[int, str, bytes, int]:
    """The report as text, and the CSV (exit code, text, CSV bytes, number of citizens)."""
    from bot.channels.plain import strip_markup
    from bot.content.snapshot import load_snapshot
    from bot.reports.build import build_report
    from bot.reports.table import csv_bytes
    from bot.reports.text import stuck_text, summary_text
    from storage.models import utcnow

    snapshot = load_snapshot(config.path(config.content.dir))
    async with session_for(config) as session:
        team = await _team(session, args.team)
        if team is None:
            return _fail(f"report: không có tổ nào mã {args.team}"), "", b"", 0
        days = config.teams.stuck_days
        report = await build_report(session, snapshot, team, utcnow(), days, notes=True)
    text = strip_markup(summary_text(report, snapshot))
    text += "\n\n" + strip_markup(stuck_text(report, snapshot.messages, days))
    return 0, text, csv_bytes(report, snapshot), len(report.rows)


REPORT_BLOCK = 100  # teams whose rows are in memory at once in ``report --all``


async def _report_all(config: Config, args: argparse.Namespace) -> int:
    """Every team's summary line, streamed block by block, then the totals; the CSV (with a
    team column, team by team) is written as it goes. Memory holds one block of teams."""
    import csv
    import gc

    from bot.channels.plain import strip_markup
    from bot.commands.run import prepare_database
    from bot.content.store import load_paused
    from bot.reports.build import (
        Report,
        add_up,
        build_team_reports,
        build_unassigned_report,
    )
    from bot.reports.table import csv_header, csv_rows
    from bot.reports.text import summary_text
    from storage.db import Database
    from storage.models import utcnow
    from storage.repos.lists import chunks
    from storage.repos.teams import TeamRepo

    snapshot = load_paused(config.path(config.content.dir))  # later collections skip it
    messages = snapshot.messages
    days = config.teams.stuck_days
    now = utcnow()
    total = Report(None, [], {}, {}, 0, 0, [], citizens=0)
    out = args.csv.open("w", encoding="utf-8-sig", newline="") if args.csv else None
    writer = csv.writer(out) if out is not None else None
    if writer is not None:
        writer.writerow(csv_header(snapshot, with_team=True))

    def emit(report: Report) -> None:
        add_up(total, report)
        if writer is not None:
            writer.writerows(csv_rows(report, snapshot, with_team=True))
        if report.team is None:
            return
        line = messages(
            "followup.team_line",
            code=report.team.code,
            team=report.team.name,
            citizens=report.citizens,
            basic=report.basic_five,
            done=sum(report.bot.values()) + sum(report.guided.values()),
            stuck=len(report.stuck),
        )
        print(strip_markup(line), flush=False)

    await prepare_database(config)
    db = Database(config.database.url)
    # A block's rows are a few hundred thousand small objects, freed by reference counting
    # when the block is done; a collection every few hundred allocations walking them (and
    # the content) took 40% of the time. Paused, and one collection per block instead.
    collecting = gc.isenabled()
    gc.disable()
    try:
        async with db.transaction() as session:
            teams = await TeamRepo(session).all()
        for block in chunks(teams, REPORT_BLOCK):
            async with db.transaction() as session:  # short read transactions
                for report in await build_team_reports(
                    session, snapshot, block, now, days, notes=True
                ):
                    emit(report)
            gc.collect()
        async with db.transaction() as session:
            emit(await build_unassigned_report(session, snapshot, now, days))
    finally:
        if collecting:
            gc.enable()
        await db.dispose()
        if out is not None:
            out.close()
    print()
    print(strip_markup(summary_text(total, snapshot)))
    if args.csv:
        print(f"\nĐã ghi bảng CSV của {total.citizens} người dân vào {args.csv}")
    return 0


def report_command(config: Config, args: argparse.Namespace) -> int:
    """Print a team's report, and write its CSV."""
    from bot.content.problems import ContentError

    try:
        if args.all:
            return asyncio.run(_report_all(config, args))
        code, text, table, citizens = asyncio.run(_report(config, args))
    except ContentError as exc:
        print("Nội dung có lỗi:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if code:
        return code
    print(text)
    if args.csv:
        args.csv.write_bytes(table)
        print(f"\nĐã ghi bảng CSV của {citizens} người dân vào {args.csv}")
    return 0
