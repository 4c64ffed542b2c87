"""Village teams, who belongs to which, the team question queue, and follow-up records.

- ``teams``: a team (Tổ công nghệ số cộng đồng) of one village in a commune/ward, with the
  short public join code printed on its QR poster.
- ``team_memberships``: which team a user belongs to (at most one), and for a citizen an
  optional household label a member recorded (the commune report counts households).
  Citizens join with the team's code or by choosing their village; members and leads join
  with a one-time invite.
  The user's role (citizen/member/lead/admin) stays on ``users.role``.
- ``team_sizes``: how many users belong to each team, kept by triggers on
  ``team_memberships`` in the transaction of every change (cascades included), so the team
  list reads 5,000 rows instead of counting a million memberships.
- ``member_invites``: one-time codes an admin hands out to make someone a member, lead or admin.
- ``team_questions``: questions the bot could not answer, sent by a citizen to their team
  (``team_id`` NULL: the admin queue), with the answer, who answered and when.
- ``guided_skills``: a member taught a citizen a skill face to face (distinct from a bot
  completion in ``skill_completions``).
- ``anonymous_counts``: what is left of a citizen who deleted their data: counts per team,
  kind and skill, with no link to any person. Reports add them to the totals.
- ``shared_files``: reports (CSV, charts) served once under an unguessable, expiring URL.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

# How a user came into a team.
JOINED_BY_LINK = "link"  # Telegram deep link / QR code
JOINED_BY_CODE = "code"  # typed the code
JOINED_BY_CHOICE = "choice"  # chose commune and village at onboarding
JOINED_BY_INVITE = "invite"  # a member invite

# Team question status.
OPEN = "open"
ANSWERED = "answered"

# Kinds of anonymous counts.
COUNT_CITIZEN = "citizen"  # a citizen who deleted their data
COUNT_COMPLETION = "completion"  # a skill they had passed (skill_id set)
COUNT_GUIDED = "guided"  # a skill they were guided through in person (skill_id set)
COUNT_BASIC_FIVE = "basic_five"  # they had reached the five basic skills
COUNT_QUESTION = "question"  # questions they had sent to the team


class Team(Base):
    """A village team; ``code`` is the public join code (upper case letters and digits)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    commune: Mapped[str] = mapped_column(String(128), index=True)
    village: Mapped[str] = mapped_column(String(128))
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # How citizens reach the team (all optional): phone or Zalo number, meeting place, hours.
    phone: Mapped[str | None] = mapped_column(String(32))
    place: Mapped[str | None] = mapped_column(String(200))
    hours: Mapped[str | None] = mapped_column(String(200))


class TeamMembership(Base):
    """The team a user belongs to: one row per user at most."""

    __tablename__ = "team_memberships"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    joined_by: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A short household label a member recorded for a citizen (never an address or ID number)
    household: Mapped[str | None] = mapped_column(String(40))


class TeamSize(Base):
    """How many users (of any role) belong to a team; written only by the triggers below."""

    __tablename__ = "team_sizes"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    members: Mapped[int] = mapped_column(Integer)


# The triggers that keep ``team_sizes`` (migration 0018 creates the same; keep them equal).
# PostgreSQL: one statement-level trigger per kind of change, over its transition tables, so
# a bulk COPY or a cascade adds one UPDATE per statement, not one per row.
TEAM_SIZES_POSTGRESQL = (
    """CREATE OR REPLACE FUNCTION team_sizes_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO team_sizes (team_id, members)
        SELECT team_id, count(*) FROM new_rows GROUP BY team_id
        ON CONFLICT (team_id) DO UPDATE SET members = team_sizes.members + EXCLUDED.members;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE team_sizes SET members = team_sizes.members - gone.n
        FROM (SELECT team_id, count(*) AS n FROM old_rows GROUP BY team_id) AS gone
        WHERE team_sizes.team_id = gone.team_id;
    ELSE
        INSERT INTO team_sizes (team_id, members)
        SELECT team_id, sum(n) FROM (
            SELECT team_id, 1 AS n FROM new_rows
            UNION ALL SELECT team_id, -1 AS n FROM old_rows
        ) AS moved GROUP BY team_id HAVING sum(n) <> 0
        ON CONFLICT (team_id) DO UPDATE SET members = team_sizes.members + EXCLUDED.members;
    END IF;
    RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS team_sizes_insert ON team_memberships",
    "DROP TRIGGER IF EXISTS team_sizes_delete ON team_memberships",
    "DROP TRIGGER IF EXISTS team_sizes_update ON team_memberships",
    "CREATE TRIGGER team_sizes_insert AFTER INSERT ON team_memberships "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION team_sizes_change()",
    "CREATE TRIGGER team_sizes_delete AFTER DELETE ON team_memberships "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION team_sizes_change()",
    "CREATE TRIGGER team_sizes_update AFTER UPDATE ON team_memberships "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION team_sizes_change()",
)
_SQLITE_ADD = (
    "INSERT INTO team_sizes (team_id, members) VALUES (NEW.team_id, 1) "
    "ON CONFLICT (team_id) DO UPDATE SET members = members + 1;"
)
_SQLITE_REMOVE = "UPDATE team_sizes SET members = members - 1 WHERE team_id = OLD.team_id;"
TEAM_SIZES_SQLITE = (
    "CREATE TRIGGER IF NOT EXISTS team_sizes_insert AFTER INSERT ON team_memberships "
    f"BEGIN {_SQLITE_ADD} END",
    "CREATE TRIGGER IF NOT EXISTS team_sizes_delete AFTER DELETE ON team_memberships "
    f"BEGIN {_SQLITE_REMOVE} END",
    "CREATE TRIGGER IF NOT EXISTS team_sizes_update AFTER UPDATE OF team_id ON team_memberships "
    f"WHEN OLD.team_id <> NEW.team_id BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END",
)
# Once every table exists (``create_all``, as the tests build their databases).
for _sql in TEAM_SIZES_POSTGRESQL:
    ddl = DDL(_sql)  # type: ignore[no-untyped-call]
    event.listen(Base.metadata, "after_create", ddl.execute_if(dialect="postgresql"))
for _sql in TEAM_SIZES_SQLITE:
    ddl = DDL(_sql)  # type: ignore[no-untyped-call]
    event.listen(Base.metadata, "after_create", ddl.execute_if(dialect="sqlite"))


class MemberInvite(Base):
    """A one-time code making whoever types it a member or lead of a team (or an admin)."""

    __tablename__ = "member_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TeamQuestion(Base):
    """A citizen's question for a human; ``team_id`` NULL means the admin queue."""

    __tablename__ = "team_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # fallback | feedback | direct
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class GuidedSkill(Base):
    """A member taught a citizen a skill in person; one row per citizen and skill."""

    __tablename__ = "guided_skills"
    __table_args__ = (UniqueConstraint("user_id", "skill_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    skill_id: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    guided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    guided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AnonymousCount(Base):
    """Counts kept when a citizen deletes their data; summed by reports, never linked to anyone."""

    __tablename__ = "anonymous_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    skill_id: Mapped[str] = mapped_column(String(64), default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SharedFile(Base):
    """A generated file (report CSV, chart) downloadable by its token until it expires: its
    bytes in ``teams.file_dir`` under the name ``path``, or in ``data`` (no folder configured,
    or made before migration 0020)."""

    __tablename__ = "shared_files"

    token: Mapped[str] = mapped_column(String(48), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    path: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
