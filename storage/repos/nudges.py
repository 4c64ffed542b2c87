"""Reminders and review questions (``storage/models/nudges.py``): scheduling, "tắt nhắc", the
nudge worker's claims and results, review answers, and counts for team reports.

The worker's side follows the broadcast deliveries' rails (``storage/repos/broadcast_claims.py``):
every state change is a conditional UPDATE (``WHERE state = ... AND claimed_by = owner``), a row
is claimed by one worker only (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one UPDATE under
SQLite's write lock), ``sending`` is committed before the platform call, and a row whose call
may have happened is never sent again (``failed: interrupted`` / ``uncertain``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, and_, delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from storage.models import (
    BroadcastOptOut,
    LessonAttempt,
    Nudge,
    NudgePref,
    ReviewAnswer,
    SkillCompletion,
    User,
)
from storage.models.broadcasts import (
    CLAIMED,
    FAILED,
    INTERRUPTED,
    NO_CONSENT,
    OPTED_OUT,
    PENDING,
    SENDING,
    SENT,
    SKIPPED,
    UNREACHABLE,
)
from storage.models.lessons import OPEN_STATUSES
from storage.models.nudges import (
    FINISHED,
    NOT_PASSED,
    NUDGES_OFF,
    REMINDER,
    REVIEW,
    WINDOW,
)
from storage.models.zalo_oa import CHANNEL as ZALO_OA
from storage.models.zalo_oa import WINDOW as ZALO_WINDOW
from storage.repos.leases import LeasedRows, Outcome, rowcount
from storage.repos.lists import chunks
from storage.repos.scope import EVERY_TEAM, Scope, of_citizens

N = Nudge
ZALO_WINDOW_REASON = "zalo_window"
REARM_DELAY = timedelta(hours=1)  # after a Zalo OA citizen writes again, a waiting nudge goes


@dataclass(frozen=True)
class NudgeClaimed:
    """A nudge row a worker took."""

    id: int
    user_id: int
    kind: str
    skill_id: str
    step: int
    channel: str


@dataclass(frozen=True)
class NudgeReady:
    """A claimed row now marked ``sending``, with its user's address on the channel."""

    id: int
    user_id: int
    kind: str
    skill_id: str
    step: int
    channel: str
    external_id: str
    attempts: int


class ReviewResult(NamedTuple):
    """A citizen's newest review answer on a skill."""

    skill_id: str
    correct: bool
    answered_at: datetime


class ReminderCount(NamedTuple):
    """Reminders sent to one citizen, and how many of them were followed by going on."""

    sent: int
    resumed: int


def _verdict(row: Any, now: datetime, after: timedelta) -> str | datetime | None:
    """Whether a claimed nudge (a row of ``start_sending``'s query) may go now: None, a skip or
    wait reason, or a later due time (a reminder whose lesson moved recently)."""
    kind: str = row[2]
    tail: tuple[Any, ...] = tuple(row[8:])
    user_channel, consent, gone, last_seen, out, off, passed, status, moved = tail
    if kind == REMINDER:
        if passed or status not in OPEN_STATUSES:
            return FINISHED
        if moved is not None and moved > now - after:
            return cast(datetime, moved + after)
    elif not passed:
        return NOT_PASSED
    checks = (
        (not consent, NO_CONSENT),
        (gone, UNREACHABLE),
        (out, OPTED_OUT),
        (off, NUDGES_OFF),
        (user_channel == ZALO_OA and now - last_seen > ZALO_WINDOW, ZALO_WINDOW_REASON),
    )
    return next((reason for failed, reason in checks if failed), None)


class NudgeRepo(LeasedRows):
    """Nudges within one session."""

    model = N

    # --- scheduling ---------------------------------------------------------------------------

    async def _row(self, user_id: int, kind: str, skill_id: str, step: int) -> Nudge | None:
        result = await self.session.execute(
            select(N).where(
                N.user_id == user_id, N.kind == kind, N.skill_id == skill_id, N.step == step
            )
        )
        return result.scalar_one_or_none()

    async def _add(self, row: Nudge) -> bool:
        """Insert a row unless its (user, kind, skill, step) exists; True when inserted."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def remind(
        self, user_id: int, skill_id: str, channel: str, due_at: datetime, now: datetime
    ) -> None:
        """A lesson was started: its reminder is due at ``due_at`` unless the citizen goes on.

        At most one reminder per citizen and skill is ever sent: an existing row is only moved
        (still waiting) or armed again (skipped because the lesson had been finished)."""
        row = await self._row(user_id, REMINDER, skill_id, 0)
        if row is None:
            await self._add(
                Nudge(
                    user_id=user_id,
                    kind=REMINDER,
                    skill_id=skill_id,
                    step=0,
                    channel=channel[:16],
                    state=PENDING,
                    due_at=due_at,
                    created_at=now,
                    updated_at=now,
                )
            )
            return
        if row.state == PENDING or (row.state == SKIPPED and row.reason == FINISHED):
            row.state, row.reason, row.due_at, row.updated_at = PENDING, None, due_at, now

    async def schedule_reviews(
        self, user_id: int, skill_id: str, channel: str, dues: Sequence[datetime], now: datetime
    ) -> int:
        """A skill was passed for the first time: its review questions, step 1, 2, ... due at
        ``dues``. Returns how many rows were added (none when they exist already)."""
        added = 0
        for step, due in enumerate(dues, start=1):
            row = Nudge(
                user_id=user_id,
                kind=REVIEW,
                skill_id=skill_id,
                step=step,
                channel=channel[:16],
                state=PENDING,
                due_at=due,
                created_at=now,
                updated_at=now,
            )
            added += await self._add(row)
        return added

    async def get(self, nudge_id: int, user_id: int) -> Nudge | None:
        """A nudge, only if it belongs to this user."""
        row = await self.session.get(Nudge, nudge_id)
        return row if row is not None and row.user_id == user_id else None

    async def of_user(self, user_id: int) -> list[Nudge]:
        """Every nudge row of a user, oldest first."""
        result = await self.session.execute(select(N).where(N.user_id == user_id).order_by(N.id))
        return list(result.scalars())

    # --- "tắt nhắc" ---------------------------------------------------------------------------

    async def turn_off(self, user_id: int, now: datetime) -> bool:
        """No more reminders and reviews; False if they were off already."""
        if await self.session.get(NudgePref, user_id) is not None:
            return False
        self.session.add(NudgePref(user_id=user_id, off_at=now))
        await self.session.flush()
        return True

    async def turn_on(self, user_id: int) -> bool:
        """Reminders and reviews again; False if they were on."""
        result = await self.session.execute(delete(NudgePref).where(NudgePref.user_id == user_id))
        return bool(rowcount(result))

    async def is_off(self, user_id: int) -> bool:
        """Whether this user said "tắt nhắc"."""
        return await self.session.get(NudgePref, user_id) is not None

    # --- review answers -----------------------------------------------------------------------

    async def answer(
        self, nudge: Nudge, question_id: str, choice: int, correct: bool, now: datetime
    ) -> bool:
        """Record an answer to a review question; False (nothing stored) when already answered."""
        return await self._add_answer(
            ReviewAnswer(
                nudge_id=nudge.id,
                user_id=nudge.user_id,
                skill_id=nudge.skill_id,
                question_id=question_id,
                choice=choice,
                correct=correct,
                answered_at=now,
            )
        )

    async def _add_answer(self, row: ReviewAnswer) -> bool:
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def answered(self, nudge_id: int) -> dict[str, bool]:
        """The questions of a review nudge answered so far: question id -> right."""
        result = await self.session.execute(
            select(ReviewAnswer.question_id, ReviewAnswer.correct).where(
                ReviewAnswer.nudge_id == nudge_id
            )
        )
        return {q: bool(ok) for q, ok in result.all()}

    async def review_results(self, user_id: int) -> dict[str, ReviewResult]:
        """Per skill, the citizen's newest review answer."""
        result = await self.session.execute(
            select(ReviewAnswer.skill_id, ReviewAnswer.correct, ReviewAnswer.answered_at)
            .where(ReviewAnswer.user_id == user_id)
            .order_by(ReviewAnswer.answered_at, ReviewAnswer.id)
        )
        newest: dict[str, ReviewResult] = {}
        for skill_id, correct, at in result.all():
            newest[skill_id] = ReviewResult(skill_id, bool(correct), at)
        return newest

    # --- the worker ---------------------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        channels: Sequence[str],
        limit: int,
        now: datetime,
        *,
        skip_locked: bool,
    ) -> list[NudgeClaimed]:
        """Take up to ``limit`` due pending rows of ``channels`` for ``owner``, oldest first."""
        if not channels:
            return []
        due = (
            select(N.id)
            .where(N.state == PENDING, N.due_at <= now, N.channel.in_(list(channels)))
            .order_by(N.due_at, N.id)
            .limit(limit)
        )
        table = cast(Table, N.__table__)
        if skip_locked:
            picked = due.with_for_update(of=N, skip_locked=True).cte("due")
            chosen = table.c.id == picked.prefix_with("MATERIALIZED").c.id
        else:
            chosen = table.c.id.in_(due.scalar_subquery())
        result = await self.session.execute(
            update(table)
            .where(chosen, table.c.state == PENDING)
            .values(state=CLAIMED, claimed_by=owner, claimed_at=now, updated_at=now)
            .returning(
                table.c.id,
                table.c.user_id,
                table.c.kind,
                table.c.skill_id,
                table.c.step,
                table.c.channel,
            )
        )
        rows = [NudgeClaimed(*row) for row in result.all()]
        rows.sort(key=lambda r: r.id)
        return rows

    async def start_sending(
        self, owner: str, ids: Sequence[int], now: datetime, after: timedelta
    ) -> tuple[list[NudgeReady], dict[int, str]]:
        """Check every rule again and mark the rows that may go ``sending``.

        A reminder whose lesson was finished (or passed) is skipped (``finished``); one whose
        lesson moved less than ``after`` ago goes back to pending, due ``after`` past that move.
        A review of a skill no longer passed is skipped. Then, for both: no consent, blocked
        the bot, "dừng nhận tin", "tắt nhắc" skip; outside a Zalo OA's window the row waits
        (``window``) for the citizen to write again. Returns the rows to send and the skip (or
        wait) reasons by row id."""
        if not ids:
            return [], {}
        latest = (
            select(LessonAttempt.id)
            .where(LessonAttempt.user_id == N.user_id, LessonAttempt.skill_id == N.skill_id)
            .order_by(LessonAttempt.id.desc())
            .limit(1)
            .correlate(N)
            .scalar_subquery()
        )
        attempt_status = select(LessonAttempt.status).where(LessonAttempt.id == latest)
        attempt_moved = select(LessonAttempt.updated_at).where(LessonAttempt.id == latest)
        passed = exists().where(
            SkillCompletion.user_id == N.user_id, SkillCompletion.skill_id == N.skill_id
        )
        query = (
            select(
                N.id,
                N.user_id,
                N.kind,
                N.skill_id,
                N.step,
                N.channel,
                N.attempts,
                User.external_id,
                User.channel,
                User.consent_at.is_not(None),
                User.unreachable_at.is_not(None),
                User.last_seen,
                exists().where(BroadcastOptOut.user_id == N.user_id),
                exists().where(NudgePref.user_id == N.user_id),
                passed,
                attempt_status.scalar_subquery(),
                attempt_moved.scalar_subquery(),
            )
            .join(User, User.id == N.user_id)
            .where(self._among(N.id, ids), N.state == CLAIMED, N.claimed_by == owner)
        )
        ready: list[NudgeReady] = []
        reasons: dict[int, str] = {}
        later: dict[int, datetime] = {}
        for row in (await self.session.execute(query)).all():
            (rid, uid, kind, skill, step, channel, attempts, ext) = row[:8]
            verdict = _verdict(row, now, after)
            if isinstance(verdict, datetime):
                later[rid] = verdict
            elif verdict is not None:
                reasons[rid] = verdict
            else:
                ready.append(NudgeReady(rid, uid, kind, skill, step, channel, ext, attempts + 1))
        await self._decide(owner, reasons, later, now)
        if ready:
            result = await self.session.execute(
                update(N)
                .where(
                    self._among(N.id, [r.id for r in ready]),
                    N.state == CLAIMED,
                    N.claimed_by == owner,
                )
                .values(state=SENDING, attempts=N.attempts + 1, claimed_at=now, updated_at=now)
                .returning(N.id)
                .execution_options(synchronize_session=False)
            )
            held = {r[0] for r in result.all()}
            ready = [r for r in ready if r.id in held]
        return ready, reasons

    async def _decide(
        self, owner: str, reasons: dict[int, str], later: dict[int, datetime], now: datetime
    ) -> None:
        """Record the rows start_sending will not send: skipped, waiting for the window, or
        back to pending at a later due time."""
        held = and_(N.state == CLAIMED, N.claimed_by == owner)
        for reason in set(reasons.values()):
            ids = [i for i, r in reasons.items() if r == reason]
            state = WINDOW if reason == ZALO_WINDOW_REASON else SKIPPED
            await self.session.execute(
                update(N)
                .where(self._among(N.id, ids), held)
                .values(
                    state=state, reason=reason, claimed_by=None, claimed_at=None, updated_at=now
                )
            )
        for rid, due in later.items():
            await self.session.execute(
                update(N)
                .where(N.id == rid, held)
                .values(state=PENDING, due_at=due, claimed_by=None, claimed_at=None, updated_at=now)
            )

    async def record(self, owner: str, outcomes: Iterable[Outcome], now: datetime) -> None:
        """Record the results of rows this owner is sending."""
        blocked: list[int] = []
        for o in outcomes:
            values: dict[str, Any] = {"state": o.state, "reason": o.reason, "updated_at": now}
            if o.state == SENT:
                values["sent_at"] = now
            if o.state in (PENDING, WINDOW):
                values.update(claimed_by=None, claimed_at=None)
            if o.state == PENDING:
                values.update(due_at=o.retry_at or now, reason=None)
                if not o.counted:
                    values["attempts"] = N.attempts - 1
            await self.session.execute(
                update(N)
                .where(N.id == o.id, N.state == SENDING, N.claimed_by == owner)
                .values(**values)
            )
            if o.blocked_user is not None:
                blocked.append(o.blocked_user)
        for block in chunks(blocked):
            await self.session.execute(
                update(User)
                .where(self._among(User.id, block), User.unreachable_at.is_(None))
                .values(unreachable_at=now)
            )

    async def unstart(self, owner: str, ids: Sequence[int]) -> int:
        """Back to pending: rows marked ``sending`` whose platform call was never started."""
        released = 0
        for block in chunks(ids):
            result = await self.session.execute(
                update(N)
                .where(self._among(N.id, block), N.state == SENDING, N.claimed_by == owner)
                .values(state=PENDING, claimed_by=None, claimed_at=None, attempts=N.attempts - 1)
            )
            released += rowcount(result)
        return released

    async def recover(self, now: datetime, lease: timedelta) -> tuple[int, int]:
        """Rows of workers that stopped renewing: claimed ones go back to pending; ones whose
        platform call may have happened become ``failed: interrupted``, never sent again."""
        cutoff = now - lease
        freed = await self.session.execute(
            update(N)
            .where(N.state == CLAIMED, N.claimed_at < cutoff)
            .values(state=PENDING, claimed_by=None, claimed_at=None, updated_at=now)
        )
        lost = await self.session.execute(
            update(N)
            .where(N.state == SENDING, N.claimed_at < cutoff)
            .values(state=FAILED, reason=INTERRUPTED, updated_at=now)
        )
        return rowcount(freed), rowcount(lost)

    async def rearm(self, now: datetime) -> int:
        """Rows waiting for Zalo's window whose citizen wrote again since: pending, due shortly
        after the citizen's last message."""
        result = await self.session.execute(
            select(N.id, User.last_seen)
            .join(User, User.id == N.user_id)
            .where(N.state == WINDOW, User.last_seen > N.updated_at)
        )
        count = 0
        for rid, seen in result.all():
            await self.session.execute(
                update(N)
                .where(N.id == rid, N.state == WINDOW)
                .values(state=PENDING, reason=None, due_at=seen + REARM_DELAY, updated_at=now)
            )
            count += 1
        return count

    async def due_channels(self, now: datetime) -> list[str]:
        """Channels with nudges due now."""
        rows = await self.session.execute(
            select(N.channel).where(N.state == PENDING, N.due_at <= now).distinct()
        )
        return sorted(rows.scalars().all())

    # --- reports ------------------------------------------------------------------------------

    async def reminders_sent(self, teams: Scope = EVERY_TEAM) -> dict[int, ReminderCount]:
        """Per consented citizen of ``teams``: reminders sent, and how many were followed by
        the citizen going on with (or passing) that lesson."""
        went_on = exists().where(
            LessonAttempt.user_id == N.user_id,
            LessonAttempt.skill_id == N.skill_id,
            LessonAttempt.updated_at > N.sent_at,
        )
        query = of_citizens(
            select(N.user_id, went_on).where(N.kind == REMINDER, N.state == SENT),
            N.user_id,
            teams,
        )
        counts: dict[int, list[int]] = {}
        for user_id, resumed in (await self.session.execute(query)).all():
            count = counts.setdefault(user_id, [0, 0])
            count[0] += 1
            count[1] += bool(resumed)
        return {uid: ReminderCount(sent, resumed) for uid, (sent, resumed) in counts.items()}
