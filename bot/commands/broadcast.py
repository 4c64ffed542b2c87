"""``trolyso broadcast create|list|status|cancel``: broadcasts from the command line.

The running bot's worker delivers them (any process with ``broadcast.enabled``); this command
only writes the broadcast and its recipients to the database.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from bot.commands.db import session_for
from bot.config import Config

if TYPE_CHECKING:
    pass


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``broadcast``."""
    cmd = sub.add_parser("broadcast", help="push a lesson or an announcement to citizens")
    actions = cmd.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="create a broadcast")
    target = create.add_mutually_exclusive_group(required=True)
    target.add_argument("--team", metavar="CODE", help="the team's join code")
    target.add_argument("--all", action="store_true", help="every citizen of every team")
    what = create.add_mutually_exclusive_group(required=True)
    what.add_argument("--lesson", metavar="ID", help="skill id of the lesson to push")
    what.add_argument("--text", help="a short announcement (at most 500 characters)")
    create.add_argument(
        "--only-missing", action="store_true", help="only citizens who have not passed it"
    )
    create.add_argument(
        "--at",
        metavar="TIME",
        help='local time to send, e.g. "08:00", "08:00 25/12" or "2026-12-25 08:00"',
    )
    create.add_argument(
        "--dry-run", action="store_true", help="show the message and the count; create nothing"
    )
    create.set_defaults(handler=create_command)

    listing = actions.add_parser("list", help="the latest broadcasts")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(handler=list_command)

    status = actions.add_parser("status", help="one broadcast's deliveries")
    status.add_argument("id", type=int)
    status.set_defaults(handler=status_command)

    cancel = actions.add_parser("cancel", help="stop a broadcast; unsent messages are skipped")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(handler=cancel_command)


def _tz(config: Config) -> object:
    from bot.broadcast.timing import zone

    return zone(config.broadcast.timezone)


async def _create(config: Config, args: argparse.Namespace) -> int:
    from bot.broadcast.compose import (
        MAX_ANNOUNCEMENT,
        announcement_body,
        lesson_body,
        local_label,
        title_of,
    )
    from bot.broadcast.timing import QuietHours, parse_when
    from bot.content.snapshot import load_snapshot
    from storage.models import utcnow
    from storage.models.broadcasts import KIND_ANNOUNCEMENT, KIND_LESSON
    from storage.repos.broadcasts import Audience, BroadcastRepo
    from storage.repos.teams import TeamRepo

    snapshot = load_snapshot(config.path(config.content.dir))
    messages = snapshot.messages
    quiet = QuietHours(
        config.broadcast.quiet_start, config.broadcast.quiet_end, config.broadcast.timezone
    )
    now = utcnow()
    at = now
    if args.at:
        parsed = parse_when(args.at, now, quiet.tz)
        if parsed is None:
            print(f'--at: not a time: {args.at!r} (try "08:00" or "2026-12-25 08:00")')
            return 2
        at = parsed
    async with session_for(config) as session:
        team = None
        if args.team:
            team = await TeamRepo(session).by_code(args.team)
            if team is None:
                print(f"no team with code {args.team!r} (see `trolyso team list`)")
                return 2
        team_name = team.name if team else None
        if args.lesson:
            skill = snapshot.lessons.get(args.lesson)
            if skill is None:
                known = ", ".join(s.id for s in snapshot.lessons.skills)
                print(f"no lesson {args.lesson!r}; lessons: {known}")
                return 2
            kind, title = KIND_LESSON, skill.title
            body = lesson_body(messages, skill, team_name)
        else:
            text = args.text.strip()
            if not text or len(text) > MAX_ANNOUNCEMENT:
                print(f"--text must have 1 to {MAX_ANNOUNCEMENT} characters")
                return 2
            kind, title = KIND_ANNOUNCEMENT, title_of(text)
            body = announcement_body(messages, text, team_name)
        audience = Audience(
            team_id=team.id if team else None,
            skill_id=args.lesson,
            only_missing=bool(args.only_missing and args.lesson),
        )
        repo = BroadcastRepo(session)
        count = await repo.count(audience)
        where = f"team {team.code} ({team.name})" if team else "every citizen"
        start = quiet.ends(at) if quiet.active(at) else at
        if audience.only_missing:
            where += ", only those who have not passed it"
        print(f"to: {where}")
        print(
            f"recipients: {count.reachable}"
            f" (skipped: {count.opted_out} opted out, {count.unreachable} unreachable)"
        )
        print(f"sending from: {local_label(start, quiet.tz)} ({config.broadcast.timezone})")
        print("message:")
        print(body)
        if args.dry_run:
            print("dry run: nothing created")
            await session.rollback()
            return 0
        broadcast = await repo.create(
            audience,
            kind=kind,
            title=title,
            body=body,
            scheduled_at=at,
            created_by=None,
            now=now,
        )
        print(f"broadcast {broadcast.id} created")
    return 0


def create_command(config: Config, args: argparse.Namespace) -> int:
    """Create a broadcast (or show what it would be, with --dry-run)."""
    return asyncio.run(_create(config, args))


def _summary(tally: dict[str, int]) -> str:
    parts = [f"{k}={v}" for k, v in sorted(tally.items())]
    return " ".join(parts) or "no recipients"


async def _list(config: Config, limit: int) -> int:
    from bot.broadcast.compose import local_label
    from storage.repos.broadcasts import BroadcastRepo
    from storage.repos.teams import TeamRepo

    async with session_for(config) as session:
        repo = BroadcastRepo(session)
        items = await repo.recent(limit)
        if not items:
            print("no broadcasts yet")
        for b in items:
            team = await TeamRepo(session).get(b.team_id) if b.team_id else None
            tally = await repo.tally(b.id)
            print(
                f"{b.id:>5}  {b.status:<9}  {team.code if team else 'ALL':<8}  "
                f"{local_label(b.scheduled_at, _tz(config))}  {b.kind:<12}  {b.title}"
            )
            print(f"       {_summary(tally)}")
    return 0


def list_command(config: Config, args: argparse.Namespace) -> int:
    """List the latest broadcasts with their counts."""
    return asyncio.run(_list(config, args.limit))


async def _status(config: Config, broadcast_id: int) -> int:
    from bot.broadcast.compose import local_label
    from storage.repos.broadcasts import BroadcastRepo

    async with session_for(config) as session:
        repo = BroadcastRepo(session)
        b = await repo.get(broadcast_id)
        if b is None:
            print(f"no broadcast {broadcast_id}")
            return 1
        tally = await repo.tally(b.id)
        tz = _tz(config)
        print(f"broadcast {b.id}: {b.kind} “{b.title}”, status {b.status}")
        print(f"audience: {b.audience}; scheduled {local_label(b.scheduled_at, tz)}")
        if b.finished_at:
            print(f"finished {local_label(b.finished_at, tz)}")
        for state in ("pending", "claimed", "sending", "sent", "failed", "skipped"):
            if tally.get(state):
                reasons = [
                    f"{k.split(':', 1)[1]}={v}"
                    for k, v in sorted(tally.items())
                    if k.startswith(f"{state}:")
                ]
                extra = f" ({', '.join(reasons)})" if reasons else ""
                print(f"  {state}: {tally[state]}{extra}")
    return 0


def status_command(config: Config, args: argparse.Namespace) -> int:
    """Show one broadcast's deliveries by state and reason."""
    return asyncio.run(_status(config, args.id))


async def _cancel(config: Config, broadcast_id: int) -> int:
    from storage.repos.broadcasts import BroadcastRepo

    async with session_for(config) as session:
        repo = BroadcastRepo(session)
        if await repo.get(broadcast_id) is None:
            print(f"no broadcast {broadcast_id}")
            return 1
        if not await repo.cancel(broadcast_id):
            print(f"broadcast {broadcast_id} is already over")
            return 1
        print(f"broadcast {broadcast_id} cancelled; messages not sent yet are skipped")
    return 0


def cancel_command(config: Config, args: argparse.Namespace) -> int:
    """Cancel a broadcast."""
    return asyncio.run(_cancel(config, args.id))
