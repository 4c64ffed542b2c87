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
    team = sub.add_parser("team", help="village teams: create, list, members, QR poster")
    actions = team.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="create a team")
    add.add_argument("name", help='the team\'s name, e.g. "Tổ CNS thôn Đông"')
    add.add_argument("--commune", required=True, help="its commune or ward (xã/phường)")
    add.add_argument("--village", required=True, help="its village (thôn/tổ dân phố)")
    add.add_argument("--code", help="join code to use (default: a random 6-character code)")
    add.set_defaults(handler=add_command)

    listing = actions.add_parser("list", help="every team with its code and size")
    listing.set_defaults(handler=list_command)

    show = actions.add_parser("show", help="a team's members, open invites and questions")
    show.add_argument("code", help="the team's join code")
    show.set_defaults(handler=show_command)

    member = actions.add_parser(
        "add-member", help="print a one-time member code (or promote a known user)"
    )
    member.add_argument("code", help="the team's join code")
    member.add_argument("--lead", action="store_true", help="make them the team lead")
    member.add_argument(
        "--user", metavar="CHANNEL:ID", help="promote this existing user directly instead"
    )
    member.set_defaults(handler=add_member_command)

    remove = actions.add_parser(
        "remove-member", help="take a member out of a team, or revoke an unused member code"
    )
    remove.add_argument("code", help="the team's join code")
    remove.add_argument("who", help="user id, CHANNEL:ID, or an unused member code")
    remove.set_defaults(handler=remove_member_command)

    admin = actions.add_parser("add-admin", help="print a one-time admin code")
    admin.add_argument("--user", metavar="CHANNEL:ID", help="promote this existing user directly")
    admin.set_defaults(handler=add_admin_command)

    qr = actions.add_parser("qr", help="write a printable PNG with the team's QR code")
    qr.add_argument("code", help="the team's join code")
    qr.add_argument("--out", type=Path, help="PNG file to write (default: to-CODE.png)")
    qr.set_defaults(handler=qr_command)

    report = sub.add_parser("report", help="a team's follow-up report (and CSV)")
    scope = report.add_mutually_exclusive_group(required=True)
    scope.add_argument("--team", metavar="CODE", help="the team's join code")
    scope.add_argument("--all", action="store_true", help="every citizen of every team")
    report.add_argument("--csv", type=Path, metavar="FILE", help="write citizens x skills here")
    report.set_defaults(handler=report_command)


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
        print(f"team {team.name!r} ({team.village}, {team.commune}) created")
        print(f"join code: {team.code}")
        link = await telegram_link(config, team.code)
        if link:
            print(f"Telegram link: {link}")
        print(f"poster: trolyso team qr {team.code}")
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
        print(f"admin queue: {admin_queue} questions waiting (citizens without a team)")
        if not teams:
            print("no team yet: trolyso team add NAME --commune X --village Y")
        for team in teams:
            citizens, staff = sizes.get(team.id, (0, 0))
            print(
                f"{team.code}  {team.name} ({team.village}, {team.commune}): "
                f"{citizens} citizens, {staff} members, "
                f"{waiting.get(team.id, 0)} questions waiting"
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
            return _fail(f"team show: no team with code {args.code}")
        repo = TeamRepo(session)
        print(f"{team.name} ({team.village}, {team.commune}), join code {team.code}")
        print(f"citizens: {await repo.citizen_count(team.id)}")
        staff = await repo.staff(team.id)
        print(f"members ({len(staff)}):")
        for user in staff:
            name = user.display_name or "-"
            print(f"  #{user.id} {user.role:6} {user.channel}:{user.external_id} {name}")
        for invite in await repo.open_invites(team.id):
            until = invite.expires_at.strftime("%Y-%m-%d")
            print(f"  unused {invite.role} code {invite.code} (valid until {until})")
        waiting = await QuestionRepo(session).open_count(team.id)
        print(f"questions waiting: {waiting}")
    return 0


def show_command(config: Config, args: argparse.Namespace) -> int:
    """Show one team."""
    return _run(_show(config, args))


async def _print_invite(config: Config, code: str, role: str, days: int) -> None:
    print(f"{role} code: {code} (one-time, valid {days} days)")
    print("the new member types this code in the chat (Zalo, Telegram or web)")
    link = await telegram_link(config, code)
    if link:
        print(f"or opens on Telegram: {link}")


async def _add_member(config: Config, args: argparse.Namespace) -> int:
    from storage.models.teams import JOINED_BY_INVITE
    from storage.repos.teams import TeamRepo

    role = "lead" if args.lead else "member"
    async with session_for(config) as session:
        team = await _team(session, args.code)
        if team is None:
            return _fail(f"team add-member: no team with code {args.code}")
        repo = TeamRepo(session)
        if args.user:
            user = await _find_user(session, args.user)
            if user is None:
                return _fail(f"team add-member: no user {args.user}")
            if user.role != "admin":
                user.role = role
            await repo.join(user.id, team.id, JOINED_BY_INVITE)
            print(f"user #{user.id} is now {user.role} of {team.name}")
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
            return _fail(f"team remove-member: no team with code {args.code}")
        repo = TeamRepo(session)
        user = await _find_user(session, args.who)
        if user is not None and await repo.remove_member(team.id, user):
            print(f"user #{user.id} is no longer a member of {team.name}")
            return 0
        invites = {i.code for i in await repo.open_invites(team.id)}
        if user is None and args.who.upper() in invites:
            await repo.revoke(args.who)
            print(f"code {args.who.upper()} revoked")
            return 0
        return _fail(f"team remove-member: {args.who} is not a member of {team.name}")


def remove_member_command(config: Config, args: argparse.Namespace) -> int:
    """Remove a member from a team, or revoke a member code."""
    return _run(_remove_member(config, args))


async def _add_admin(config: Config, args: argparse.Namespace) -> int:
    from storage.repos.teams import TeamRepo

    async with session_for(config) as session:
        if args.user:
            user = await _find_user(session, args.user)
            if user is None:
                return _fail(f"team add-admin: no user {args.user}")
            user.role = "admin"
            print(f"user #{user.id} is now an admin")
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
        return _fail(f"team qr: no team with code {args.code}")
    try:
        png = poster_png(config, _messages(config), team, link, oa_name)
    except FileNotFoundError as exc:
        return _fail(f"team qr: {exc}")
    out: Path = args.out or Path(f"to-{team.code}.png")
    out.write_bytes(png)
    print(f"poster written to {out} (QR code: {link or team.code})")
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
            return _fail(f"report: no team with code {args.team}"), "", b"", 0
        days = config.teams.stuck_days
        report = await build_report(session, snapshot, team, utcnow(), days)
    text = strip_markup(summary_text(report, snapshot))
    text += "\n\n" + strip_markup(stuck_text(report, snapshot.messages, days))
    return 0, text, csv_bytes(report, snapshot), len(report.rows)


REPORT_BLOCK = 100  # teams whose rows are in memory at once in ``report --all``


async def _report_all(config: Config, args: argparse.Namespace) -> int:
    """Every team's summary line, streamed block by block, then the totals; the CSV (with a
    team column, team by team) is written as it goes. Memory holds one block of teams."""
    import csv

    from bot.channels.plain import strip_markup
    from bot.commands.run import prepare_database
    from bot.content.snapshot import load_snapshot
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

    snapshot = load_snapshot(config.path(config.content.dir))
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
    try:
        async with db.transaction() as session:
            teams = await TeamRepo(session).all()
        for block in chunks(teams, REPORT_BLOCK):
            async with db.transaction() as session:  # short read transactions
                for report in await build_team_reports(session, snapshot, block, now, days):
                    emit(report)
        async with db.transaction() as session:
            emit(await build_unassigned_report(session, snapshot, now, days))
    finally:
        await db.dispose()
        if out is not None:
            out.close()
    print()
    print(strip_markup(summary_text(total, snapshot)))
    if args.csv:
        print(f"\nCSV of {total.citizens} citizens written to {args.csv}")
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
        print(f"\nCSV of {citizens} citizens written to {args.csv}")
    return 0
