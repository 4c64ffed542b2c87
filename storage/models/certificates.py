"""``certificates``: the team's recognition ("giấy ghi nhận") of a citizen who reached the five
basic skills (a passed skill in each of jobs 1-5), one per citizen.

What was printed is kept as it was printed (name, team, village, commune, the five skills'
titles), so a check of the code years later shows the paper's text even after content or team
changes. The code is random (``storage.repos.certificates.new_code``), not derived from the
data: deleting the row ("Xóa dữ liệu của tôi", by cascade) is enough to make it unknown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow


class Certificate(Base):
    """One citizen's certificate: its verification code and the text printed on it."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    team_name: Mapped[str] = mapped_column(String(200), default="")
    village: Mapped[str] = mapped_column(String(200), default="")
    commune: Mapped[str] = mapped_column(String(200), default="")
    # [[job, skill_id, title], ...] for jobs 1-5, in job order
    skills: Mapped[list[Any]] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
