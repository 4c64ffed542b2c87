"""``trolyso cert verify CODE``: check a certificate's verification code (admins).

Prints, in Vietnamese, whether the code is valid and what the certificate says (name, team,
village, date, skills); exit status 0 when valid, 1 when not.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

from bot.commands.db import session_for
from bot.config import Config

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``cert``."""
    cert = sub.add_parser("cert", help="giấy ghi nhận 5 kỹ năng số cơ bản")
    actions = cert.add_subparsers(dest="action", required=True)
    verify = actions.add_parser("verify", help="kiểm tra mã xác minh in trên giấy ghi nhận")
    verify.add_argument("code", help="mã xác minh, ví dụ ABCDE-FGHJK")
    verify.set_defaults(handler=verify_command)


async def verify_lines(session: AsyncSession, typed: str) -> tuple[bool, list[str]]:
    """Whether the code is valid, and the lines to print (in Vietnamese)."""
    from bot.reports.certificate import issued_date
    from storage.repos.certificates import CertificateRepo, shown

    certificate = await CertificateRepo(session).by_code(typed)
    if certificate is None:
        return False, [f"KHÔNG HỢP LỆ: không có giấy ghi nhận nào mã {typed.strip()!r}."]
    place = ", ".join(p for p in (certificate.village, certificate.commune) if p)
    lines = [
        f"HỢP LỆ: giấy ghi nhận mã {shown(certificate.code)}",
        f"  Người được ghi nhận: {certificate.name}",
        f"  Tổ: {certificate.team_name or '(chưa vào tổ)'}",
        f"  Nơi: {place or '-'}",
        f"  Ngày cấp: {issued_date(certificate)}",
        "  Kỹ năng:",
    ]
    lines += [f"    {job}. {title}" for job, _, title in certificate.skills]
    return True, lines


async def _verify(config: Config, typed: str) -> int:
    async with session_for(config) as session:
        valid, lines = await verify_lines(session, typed)
    print("\n".join(lines))
    return 0 if valid else 1


def verify_command(config: Config, args: argparse.Namespace) -> int:
    """Check a verification code."""
    return asyncio.run(_verify(config, args.code))
