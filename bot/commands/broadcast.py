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
    cmd = sub.add_parser("broadcast", help="gửi bài học hoặc thông báo cho người dân")
    actions = cmd.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="tạo một tin gửi")
    target = create.add_mutually_exclusive_group(required=True)
    target.add_argument("--team", metavar="CODE", help="mã tham gia của tổ")
    target.add_argument("--all", action="store_true", help="mọi người dân của mọi tổ")
    what = create.add_mutually_exclusive_group(required=True)
    what.add_argument("--lesson", metavar="ID", help="mã bài học cần gửi (ví dụ sk_spot_phishing)")
    what.add_argument("--text", help="thông báo ngắn (tối đa 500 ký tự)")
    create.add_argument("--only-missing", action="store_true", help="chỉ người chưa đạt bài này")
    create.add_argument(
        "--at",
        metavar="TIME",
        help='giờ gửi (giờ Việt Nam), ví dụ "08:00", "08:00 25/12" hoặc "2026-12-25 08:00"',
    )
    create.add_argument(
        "--dry-run", action="store_true", help="chỉ xem nội dung và số người nhận, không tạo tin"
    )
    create.set_defaults(handler=create_command)

    listing = actions.add_parser("list", help="các tin gửi gần đây")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(handler=list_command)

    status = actions.add_parser("status", help="tình hình gửi của một tin")
    status.add_argument("id", type=int)
    status.set_defaults(handler=status_command)

    cancel = actions.add_parser("cancel", help="dừng một tin; phần chưa gửi sẽ bỏ qua")
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
            print(f'--at: không hiểu giờ {args.at!r} (ví dụ "08:00" hoặc "2026-12-25 08:00")')
            return 2
        at = parsed
    async with session_for(config) as session:
        team = None
        if args.team:
            team = await TeamRepo(session).by_code(args.team)
            if team is None:
                print(f"Không có tổ nào mã {args.team!r} (xem `trolyso team list`)")
                return 2
        team_name = team.name if team else None
        if args.lesson:
            skill = snapshot.lessons.get(args.lesson)
            if skill is None:
                known = ", ".join(s.id for s in snapshot.lessons.skills)
                print(f"Không có bài học {args.lesson!r}; các bài học: {known}")
                return 2
            kind, title = KIND_LESSON, skill.title
            body = lesson_body(messages, skill, team_name)
        else:
            text = args.text.strip()
            if not text or len(text) > MAX_ANNOUNCEMENT:
                print(f"--text phải dài từ 1 đến {MAX_ANNOUNCEMENT} ký tự")
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
        where = f"tổ {team.code} ({team.name})" if team else "mọi người dân"
        start = quiet.ends(at) if quiet.active(at) else at
        if audience.only_missing:
            where += ", chỉ người chưa đạt bài này"
        print(f"Gửi cho: {where}")
        print(
            f"Số người nhận: {count.reachable}"
            f" (bỏ qua: {count.opted_out} đã dừng nhận tin, {count.unreachable} đã chặn trợ lý)"
        )
        print(f"Bắt đầu gửi: {local_label(start, quiet.tz)} ({config.broadcast.timezone})")
        print("Nội dung:")
        print(body)
        if args.dry_run:
            print("Chạy thử: chưa tạo tin nào.")
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
        print(f"Đã tạo tin số {broadcast.id}")
    return 0


def create_command(config: Config, args: argparse.Namespace) -> int:
    """Create a broadcast (or show what it would be, with --dry-run)."""
    return asyncio.run(_create(config, args))


def _summary(tally: dict[str, int]) -> str:
    parts = [f"{k}={v}" for k, v in sorted(tally.items())]
    return " ".join(parts) or "chưa có người nhận"


async def _list(config: Config, limit: int) -> int:
    from bot.broadcast.compose import local_label
    from storage.repos.broadcasts import BroadcastRepo
    from storage.repos.teams import TeamRepo

    async with session_for(config) as session:
        repo = BroadcastRepo(session)
        items = await repo.recent(limit)
        if not items:
            print("Chưa có tin nào.")
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
            print(f"Không có tin số {broadcast_id}")
            return 1
        tally = await repo.tally(b.id)
        tz = _tz(config)
        print(f"Tin số {b.id}: {b.kind} “{b.title}”, trạng thái {b.status}")
        print(f"Người nhận: {b.audience}; hẹn gửi {local_label(b.scheduled_at, tz)}")
        if b.finished_at:
            print(f"Xong lúc {local_label(b.finished_at, tz)}")
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
            print(f"Không có tin số {broadcast_id}")
            return 1
        if not await repo.cancel(broadcast_id):
            print(f"Tin số {broadcast_id} đã kết thúc rồi")
            return 1
        print(f"Đã hủy tin số {broadcast_id}; phần chưa gửi sẽ được bỏ qua")
    return 0


def cancel_command(config: Config, args: argparse.Namespace) -> int:
    """Cancel a broadcast."""
    return asyncio.run(_cancel(config, args.id))
