"""Helpers for the reminder and review tests: a clock the test moves, a nudge worker with no
pace limit, a citizen's lesson left unfinished, and the nudge rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.app import App
from bot.broadcast.nudges import NudgeWorker
from bot.channels.memory import MemoryChannel
from bot.config import NudgesConfig
from storage.models import Nudge, User
from tests.broadcast_helpers import fast_config
from tests.conftest import consent

SKILL = "sk_spot_phishing"
VIETNAM_HOURS = 7


class Clock:
    """A clock that stands still until the test moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move forward by ``timedelta(**delta)``."""
        self.now += timedelta(**delta)

    def local_hour(self, hour: int) -> None:
        """Move to ``hour``:00 local time (UTC+7) on the same local day, or the next one when
        that hour has passed."""
        local = self.now + timedelta(hours=VIETNAM_HOURS)
        target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
        if target < local:
            target += timedelta(days=1)
        self.now = target - timedelta(hours=VIETNAM_HOURS)


def morning(days_ago: int = 20) -> datetime:
    """10:00 local time ``days_ago`` days before now (the dispatcher stamps ``last_seen`` with
    the real time, so the test clock runs in the past)."""
    local = datetime.now(UTC) + timedelta(hours=VIETNAM_HOURS) - timedelta(days=days_ago)
    local = local.replace(hour=10, minute=0, second=0, microsecond=0)
    return local - timedelta(hours=VIETNAM_HOURS)


def install_clock(app: App, start: datetime | None = None) -> Clock:
    clock = Clock(start or morning())
    app.services.clock = clock
    return clock


def nudge_worker(
    app: App, *, quiet: tuple[str, str] = ("21:00", "07:00"), owner: str = "", **changes: object
) -> NudgeWorker:
    """A worker over the app's channels: no pace limit, the given quiet hours."""
    broadcast = fast_config(quiet_start=quiet[0], quiet_end=quiet[1])
    config = replace(NudgesConfig(), **changes)  # type: ignore[arg-type]
    return NudgeWorker(
        app.services, app.channels, config=config, broadcast=broadcast, owner=owner or None
    )


async def leave_a_lesson(
    chat: MemoryChannel, app: App, user: str, skill_id: str = SKILL, *, fresh: bool = True
) -> None:
    """Consent (``fresh``), open a lesson, read one step, and leave it with "dừng"."""
    skill = app.store.current.lessons.get(skill_id)
    assert skill is not None
    if fresh:
        await consent(chat, user)
    await chat.say(user, "bài học")
    await chat.press(user, skill.title)
    await chat.press(user, "Tiếp")
    await chat.say(user, "dừng")


async def rows(app: App, external_id: str) -> list[Nudge]:
    """The nudge rows of a user, oldest first."""
    async with app.db.transaction() as s:
        uid = await s.scalar(select(User.id).where(User.external_id == external_id))
        result = await s.execute(select(Nudge).where(Nudge.user_id == uid).order_by(Nudge.id))
        return list(result.scalars())


def pushed(chat: MemoryChannel, user: str) -> list[str | None]:
    """The keys of the messages pushed to a user outside their turns."""
    return [r.key for r in chat.sent.get(user, [])]
