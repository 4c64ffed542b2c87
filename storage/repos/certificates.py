"""Certificates ("giấy ghi nhận"): issuing one per citizen, finding one by its code.

The verification code is 10 characters drawn with ``secrets`` from 31 letters and digits that
cannot be mistaken for each other when read off paper (no 0/O, 1/I/L): about 2^49.5 codes, so a
code cannot be guessed, and it means nothing by itself (the record is what is checked). It is
printed as two groups of five, ``ABCDE-FGHJK``; typed with spaces, dashes or small letters it
still matches.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Certificate, utcnow

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
_SEPARATORS = re.compile(r"[\s\-_.]+")


def new_code() -> str:
    """A fresh random verification code (stored without the dash)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def shown(code: str) -> str:
    """The code as printed: ``ABCDE-FGHJK``."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normal_code(text: str) -> str | None:
    """The code a person typed (any case, spaces or dashes), or None when it cannot be one."""
    bare = _SEPARATORS.sub("", text).upper()
    if len(bare) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in bare):
        return None
    return bare


class CertificateRepo:
    """The certificates table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_user(self, user_id: int) -> Certificate | None:
        """This citizen's certificate, if one was issued."""
        result = await self.session.execute(
            select(Certificate).where(Certificate.user_id == user_id)
        )
        return result.scalar_one_or_none()

    async def by_code(self, typed: str) -> Certificate | None:
        """The certificate with this code (as typed), or None."""
        code = normal_code(typed)
        if code is None:
            return None
        result = await self.session.execute(select(Certificate).where(Certificate.code == code))
        return result.scalar_one_or_none()

    async def issue(
        self,
        user_id: int,
        *,
        name: str,
        team: tuple[int, str, str, str] | None,
        skills: list[tuple[int, str, str]],
        now: datetime | None = None,
    ) -> Certificate:
        """Record a new certificate (the caller checked there is none): ``team`` is (id, name,
        village, commune), ``skills`` (job, skill id, title) per job."""
        team_id, team_name, village, commune = team if team is not None else (None, "", "", "")
        certificate = Certificate(
            code=new_code(),
            user_id=user_id,
            team_id=team_id,
            name=name[:200],
            team_name=team_name[:200],
            village=village[:200],
            commune=commune[:200],
            skills=[list(s) for s in skills],
            issued_at=now or utcnow(),
        )
        self.session.add(certificate)
        await self.session.flush()
        return certificate
