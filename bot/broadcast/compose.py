"""What a broadcast says: the text stored once per broadcast and the reply each recipient gets.

Shared by the chat compose flow (``handlers/broadcasts.py``) and the CLI, so the preview is
exactly what citizens receive.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.replies import Button, Reply
from storage.models.broadcasts import CLAIMED, KIND_LESSON, PENDING

if TYPE_CHECKING:
    from bot.content.lessons import Skill
    from bot.content.messages import Messages
    from bot.content.snapshot import Snapshot
    from storage.models import Broadcast

MAX_ANNOUNCEMENT = 500  # characters of a typed announcement
LESSON_START = "lesson:start:"  # the lessons feature's payload that opens a skill


def sender_name(messages: Messages, team_name: str | None) -> str:
    """Who the message is from: the team's name, or the teams in general."""
    if team_name:
        return messages("broadcast.from_team", team=team_name)
    return messages("broadcast.from_all")


def lesson_body(messages: Messages, skill: Skill, team_name: str | None) -> str:
    """The text of a lesson broadcast."""
    body = messages(
        "broadcast.lesson_body",
        sender=sender_name(messages, team_name),
        title=skill.title,
        summary=skill.summary.strip(),
    )
    return f"{body}\n\n{messages('broadcast.footer')}"


def announcement_body(messages: Messages, text: str, team_name: str | None) -> str:
    """The text of an announcement broadcast."""
    body = messages(
        "broadcast.announcement_body",
        sender=sender_name(messages, team_name),
        text=text.strip(),
    )
    return f"{body}\n\n{messages('broadcast.footer')}"


def title_of(text: str, limit: int = 60) -> str:
    """A short title for an announcement (its first line, cut)."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def reply_for(snapshot: Snapshot, broadcast: Broadcast) -> Reply:
    """The message one recipient gets; a lesson carries the "Học ngay" button."""
    if broadcast.kind == KIND_LESSON and broadcast.skill_id:
        label = snapshot.messages("broadcast.learn_now")
        button = Button(label=label, payload=f"{LESSON_START}{broadcast.skill_id}")
        return Reply(text=broadcast.body, buttons=(button,))
    return Reply(text=broadcast.body)


def local_label(moment: datetime, tz: object) -> str:
    """A moment as local "HH:MM dd/mm/yyyy"."""
    local = moment.astimezone(tz)  # type: ignore[arg-type]
    return local.strftime("%H:%M %d/%m/%Y")


REASONS = (
    "skipped:opted_out",
    "skipped:unreachable",
    "skipped:already_passed",
    "skipped:no_consent",
    "skipped:cancelled",
    "skipped:zalo_window",
    "failed:blocked",
    "failed:error",
    "failed:interrupted",
    "failed:uncertain",
)


def droppable(tally: dict[str, int]) -> int:
    """How many messages a cancel would still drop (waiting, not yet being sent)."""
    return tally.get(PENDING, 0) + tally.get(CLAIMED, 0)


def tally_lines(messages: Messages, tally: dict[str, int]) -> str:
    """Sent / failed / skipped counts, then each reason that occurred, one per line."""
    lines = [
        messages(
            "broadcast.tally",
            sent=tally.get("sent", 0),
            failed=tally.get("failed", 0),
            skipped=tally.get("skipped", 0),
        )
    ]
    waiting = sum(tally.get(s, 0) for s in ("pending", "claimed", "sending"))
    if waiting:
        lines.append(messages("broadcast.waiting", n=waiting))
    for key in REASONS:
        if tally.get(key):
            lines.append(messages(f"broadcast.reason.{key.replace(':', '_')}", n=tally[key]))
    return "\n".join(lines)


def report_text(messages: Messages, broadcast: Broadcast, tally: dict[str, int]) -> str:
    """The report the sender gets when a broadcast is over."""
    head = messages("broadcast.report", title=broadcast.title, id=broadcast.id)
    return f"{head}\n{tally_lines(messages, tally)}"
