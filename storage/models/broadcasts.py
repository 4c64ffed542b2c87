"""Broadcasts: a lesson or a short announcement pushed to a team's citizens (or to everyone).

- ``broadcasts``: what is sent (``skill_id`` for a lesson, ``body`` is the exact text every
  recipient gets), to whom (``team_id``, NULL = every citizen; ``audience`` all or only those who
  have not passed the skill), when (``scheduled_at``), who asked (``created_by``, NULL from the
  CLI) and where it stands (``status``). ``archived`` counts the deliveries housekeeping pruned
  (``{"state:reason": n}``, ``retention.delivery_days`` after the end), so reports still add up.
- ``broadcast_deliveries``: one row per recipient, the unit of work of the worker. States:
  ``pending`` (waiting; ``next_attempt_at`` delays retries), ``claimed`` (taken by a worker,
  ``claimed_by``/``claimed_at`` are its lease; not sent yet), ``sending`` (the platform call may
  have started), then ``sent``, ``failed`` (``reason``) or ``skipped`` (``reason``).
- ``broadcast_optouts``: citizens who said "dừng nhận tin"; they are skipped until "nhận tin".
- ``send_lanes``: the pace of each sending lane (a bot token, an Official Account) shared by
  every process: the lane's next free send slot (``next_at``), which a pause the platform asked
  for moves to the pause's end.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

# Broadcast kinds.
KIND_LESSON = "lesson"
KIND_ANNOUNCEMENT = "announcement"

# Audiences.
AUDIENCE_ALL = "all"
AUDIENCE_MISSING = "missing"  # only citizens who have not passed the skill

# Broadcast status: ``active`` until every delivery is final (sending starts at scheduled_at).
ACTIVE = "active"
DONE = "done"
CANCELLED = "cancelled"
DRAFT = "draft"  # a typed announcement kept because nobody could receive it yet; never sent

# Delivery states.
PENDING = "pending"
CLAIMED = "claimed"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
OPEN_STATES = (PENDING, CLAIMED, SENDING)
FINAL_STATES = (SENT, FAILED, SKIPPED)

# Reasons (failed or skipped).
OPTED_OUT = "opted_out"  # said "dừng nhận tin"
UNREACHABLE = "unreachable"  # blocked the bot earlier
BLOCKED = "blocked"  # the platform said they blocked the bot during this broadcast
ALREADY_PASSED = "already_passed"  # passed the skill after the broadcast was created
NO_CONSENT = "no_consent"  # withdrew consent
CANCELLED_REASON = "cancelled"  # the broadcast was cancelled
ERROR = "error"  # the platform kept failing (network, server errors)
INTERRUPTED = "interrupted"  # the process died during the platform call: maybe delivered
UNCERTAIN = "uncertain"  # the platform's answer never came (timeout after sending): maybe delivered


class Broadcast(Base):
    """One lesson or announcement pushed to an audience."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    skill_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))  # lesson title or announcement start
    body: Mapped[str] = mapped_column(Text)  # the exact text each recipient gets
    audience: Mapped[str] = mapped_column(String(16), default=AUDIENCE_ALL)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Pruned deliveries by "state:reason" ("sent:" when no reason); the tally adds them.
    archived: Mapped[dict[str, int] | None] = mapped_column(JSON)


class BroadcastDelivery(Base):
    """One recipient of one broadcast, and where their message stands."""

    __tablename__ = "broadcast_deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "user_id"),
        # Only unfinished rows are indexed for the worker: finished ones are most of the table.
        Index(
            "ix_broadcast_deliveries_work",
            "channel",
            "next_attempt_at",
            "id",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index(
            "ix_broadcast_deliveries_held",
            "claimed_by",
            "claimed_at",
            postgresql_where=text("state IN ('claimed', 'sending')"),
            sqlite_where=text("state IN ('claimed', 'sending')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    reason: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BroadcastOptOut(Base):
    """A citizen who asked not to receive broadcasts."""

    __tablename__ = "broadcast_optouts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SendLane(Base):
    """The schedule of one sending lane: each send reserves the next slot in one atomic
    UPDATE, by whichever process sends it (PostgreSQL; ``storage/repos/lanes.py``)."""

    __tablename__ = "send_lanes"

    lane: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
