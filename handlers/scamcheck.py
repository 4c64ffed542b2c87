"""The scam check: a citizen pastes or forwards a message, a link or a phone number.

The menu button (``ScamStart``) or an intent phrase of ``scamcheck`` typed alone asks for the
message; the next text is checked. Free text outside that is checked right away when it holds
a link or reads like a forwarded message (or starts or ends with one of those intent phrases,
"is this a scam?", around a message) and the checker finds something; anything else goes on to
the answers. The reply lists the signs found, what to do now and how to report, and offers the
related lesson. It never says "safe".

Nothing pasted is stored: the flow's data stays empty, nothing goes to the question log, and
the log line names only the signs' ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.core.context import Context
from bot.core.events import TextMessage
from bot.core.flows import Flow
from bot.core.replies import Button, Reply
from bot.core.router import Router
from bot.core.text import fold
from bot.scamcheck import Verdict, asks_about, check, has_link, looks_forwarded
from handlers.menu import menu_button
from handlers.payloads import LessonStart, ScamStart

log = logging.getLogger(__name__)

router = Router("scamcheck")


@dataclass
class Waiting:
    """Waiting for the message to check (nothing of it is kept)."""


FLOW = router.flow(Flow("scamcheck", Waiting))
INTENT = "scamcheck"
MAX_SHOWN = 4  # signs listed in the chat; the rest are counted (one phone screen)


def _without_trigger(ctx: Context, text: str) -> str | None:
    """The text around an intent phrase of the scam check that starts or ends it, or None when
    there is no such phrase."""
    raw = text.split()
    phrases = [p for p, intent in ctx.content.intents.by_phrase.items() if intent == INTENT]
    for size in range(1, min(len(raw), 12)):
        head, tail = fold(" ".join(raw[:size])), fold(" ".join(raw[-size:]))
        if head in phrases:
            return " ".join(raw[size:]).lstrip(" :-–,.")
        if tail in phrases:
            return " ".join(raw[:-size]).rstrip(" :-–,?")
    return None


def _buttons(ctx: Context, verdict: Verdict) -> list[Button]:
    buttons: list[Button] = []
    lesson_id = verdict.lesson or ctx.content.scam.default_lesson
    skill = ctx.content.lessons.get(lesson_id) if lesson_id else None
    if skill is not None:
        buttons.append(ctx.button("scam.lesson_button", LessonStart(skill.id), title=skill.title))
    buttons.append(ctx.button("scam.again_button", ScamStart()))
    buttons.append(menu_button(ctx))
    return buttons


def verdict_text(ctx: Context, verdict: Verdict) -> str:
    """The reply to a check: the signs found (or none), what to do, how to report."""
    if verdict.has_phone and not verdict.found and not verdict.links:
        return ctx.t("scam.phone")
    parts: list[str] = []
    if verdict.found:
        lines = [ctx.t("scam.found" if verdict.scam else "scam.unsure")]
        lines += [ctx.t("scam.sign", text=f.text) for f in verdict.found[:MAX_SHOWN]]
        if len(verdict.found) > MAX_SHOWN:
            lines.append(ctx.t("scam.more", count=len(verdict.found) - MAX_SHOWN))
        parts.append("\n".join(lines))
        parts.append(ctx.t("scam.todo"))
        parts.append(ctx.t("scam.report"))
    else:
        parts.append(ctx.t("scam.none"))
    if verdict.unknown_domains:
        parts.append(ctx.t("scam.domain", domain=verdict.unknown_domains[0]))
    return "\n\n".join(parts)


def answer(ctx: Context, text: str) -> None:
    """Check ``text`` and reply; only the verdict's sign ids are logged, never the text."""
    verdict = check(text, ctx.content.scam)
    log.info("scam check: scam=%s signs=%s", verdict.scam, ",".join(f.id for f in verdict.found))
    ctx.send(Reply.with_buttons(verdict_text(ctx, verdict), _buttons(ctx, verdict)))


@router.button(ScamStart)
@router.command(INTENT)
async def start(ctx: Context, _: ScamStart | None = None) -> None:
    """Ask for the message to check."""
    ctx.enter(FLOW, Waiting())
    ctx.say("scam.prompt", menu_button(ctx))


@router.text(FLOW)
async def pasted(ctx: Context) -> None:
    """The message to check, right after the prompt."""
    assert isinstance(ctx.event, TextMessage)
    text = ctx.event.text
    if not any(ch.isalnum() for ch in text):
        ctx.say("scam.empty", menu_button(ctx))
        return
    ctx.leave()
    answer(ctx, text)


def _to_check(ctx: Context) -> str | None:
    """The part of free text to check when it is a pasted message or link that shows a sign,
    or a message around "is this a scam?"; None when the answers should take the text."""
    event = ctx.event
    rules = ctx.content.scam
    if not isinstance(event, TextMessage) or rules.empty or not event.text:
        return None
    text = event.text
    rest = _without_trigger(ctx, text)
    if rest is not None and rest.strip():  # "tin này có phải lừa đảo không: <message>"
        verdict = check(rest, rules)
        pasted = has_link(rest, rules) or looks_forwarded(rest, rules) or verdict.has_phone
        if pasted or (verdict.scam and not asks_about(rest, rules)):
            return rest
        return None  # a question about scams, with no message in it: the answers know
    if not (has_link(text, rules) or looks_forwarded(text, rules)) or asks_about(text, rules):
        return None  # a question, maybe about a message: the answers serve it better
    if not check(text, rules).found:
        return None  # maybe a question that names a site: the answers take it
    return text


# After a typed team code (handlers/teams.py, rank 0), before the answers.
@router.text(when=lambda ctx: _to_check(ctx) is not None, rank=1)
async def spotted(ctx: Context) -> None:
    """A link or a forwarded-looking message typed anywhere: check it if it shows a sign."""
    text = _to_check(ctx)
    if text is not None:
        answer(ctx, text)
