"""Answers from the knowledge base: free text in, the right entry (or an honest "not sure") out.

Free text nobody else took goes to the matcher (``ctx.content.index``). The bot then answers
directly, asks back with the 2–3 closest entries, or falls back kindly with the menu and the
team contact. Each answer is one message: it ends with "was this helpful?", and its buttons are
the thumbs up / down, then its related entries and lesson. Every question is logged
(``question_log``) with its outcome and feedback.

An entry with ``details`` gets a "see the steps" button after the thumbs (``AnswerSteps``),
which sends those numbered steps as their own message, with the same feedback buttons.

Payloads (handlers/payloads.py): ``AnswerShow`` (a related entry), ``AnswerPick`` (a choice
after asking back), ``AnswerNone`` (none of the choices), ``AnswerUp`` and ``AnswerDown``
(feedback), ``AnswerSteps`` (the steps); the lesson button is ``LessonStart``.

Other features add a button under the replies that leave a question unanswered (a fall-back,
"none of these", or thumbs down), e.g. "send my question to the team", through the extension
point ``UNANSWERED``: ``router.extend(UNANSWERED, fn)``; ``fn`` gets the context and the
question log row's id (or the ``Context.ref`` standing for it) and returns a button or None.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.config import QUESTION_VIEW_DAYS
from bot.content.knowledge import Entry
from bot.core.context import Context
from bot.core.events import TextMessage
from bot.core.replies import Button, Reply
from bot.core.router import ADMIN, Hook, Router
from bot.nlp.matcher import ANSWER, ASK, Match
from bot.nlp.normalize import words
from handlers.fallback import not_understood
from handlers.menu import menu_button, menu_buttons
from handlers.payloads import (
    AnswerDown,
    AnswerNone,
    AnswerPick,
    AnswerShow,
    AnswerSteps,
    AnswersUnanswered,
    AnswerUp,
    LessonStart,
)
from storage.models.answers import NOT_HELPFUL
from storage.repos.answers import AnswerRepo

if TYPE_CHECKING:
    from bot.content.problems import Problem

log = logging.getLogger(__name__)

router = Router("answers")

MAX_RELATED = 3
UNANSWERED_DAYS = QUESTION_VIEW_DAYS  # how far back the admins' unanswered view looks
MAX_UNANSWERED = 10  # lines of each kind shown in the chat (the CLI's CSV has everything)
MAX_PROBLEMS_SHOWN = 15

UnansweredButton = Callable[[Context, int], Button | None]
UNANSWERED: Hook[UnansweredButton] = Hook("answers.unanswered")


async def logged_question(ctx: Context, log_id: int) -> tuple[str, bool] | None:
    """The text of one of this user's logged questions, and whether they said the answer did
    not help (for features that pass the question on, e.g. to the team)."""
    row = await AnswerRepo(ctx.session).of_user(log_id, ctx.user.id)
    return (row.text, row.feedback == NOT_HELPFUL) if row is not None else None


def is_question(text: str) -> bool:
    """Whether the text has at least one word of two letters or more."""
    return any(len(w) > 1 and not w.isdigit() for w in words(text))


def _unanswered_buttons(ctx: Context, log_id: int | None) -> list[Button]:
    """Buttons other features add under an unanswered question."""
    if log_id is None:
        return []
    out: list[Button] = []
    for factory in ctx.extensions(UNANSWERED):
        try:
            button = factory(ctx, log_id)
        except Exception:
            log.exception("unanswered-question button failed")
            continue
        if button is not None:
            out.append(button)
    return out


def entry_text(ctx: Context, entry: Entry) -> str:
    """The answer of an entry as one message: title, answer, links."""
    text = ctx.t("answers.answer", title=entry.title, answer=entry.answer)
    for link in entry.links:
        text += "\n" + ctx.t("answers.link", title=link.title, url=link.url)
    return text


def entry_buttons(ctx: Context, entry: Entry, log_id: int | None) -> list[Button]:
    """The related entries and the lesson an answer leads to."""
    buttons: list[Button] = []
    for related_id in entry.related[:MAX_RELATED]:
        related = ctx.content.entry(related_id)
        if related is not None:
            buttons.append(
                ctx.button(
                    "answers.related_button",
                    AnswerShow(related.id, log_id),
                    title=related.title,
                )
            )
    skill = ctx.content.lessons.get(entry.skill) if entry.skill else None
    if skill is not None:
        buttons.append(
            ctx.button("answers.lesson_button", LessonStart(skill.id), title=skill.title)
        )
    return buttons


def show_entry(ctx: Context, entry: Entry, log_id: int | None) -> None:
    """Reply with an entry: its image, then one message with the answer, "was this helpful?"
    and the buttons: thumbs up / down first, "see the steps", the related entries, the lesson."""
    if entry.image and ctx.caps.images:
        ctx.send(Reply.picture(entry.image))
    text, buttons = _with_feedback(ctx, entry_text(ctx, entry), entry, log_id)
    if entry.details:
        steps = ctx.button("answers.steps_button", AnswerSteps(entry.id, log_id))
        buttons.insert(2 if log_id is not None else 0, steps)  # after the thumbs
    ctx.send(Reply.with_buttons(text, buttons))


def _with_feedback(
    ctx: Context, text: str, entry: Entry, log_id: int | None
) -> tuple[str, list[Button]]:
    """The text with "was this helpful?" and the thumbs, then the related entries and lesson."""
    buttons = entry_buttons(ctx, entry, log_id)
    if log_id is not None:
        text += "\n\n" + ctx.t("answers.helpful_prompt")
        buttons = [
            ctx.button("answers.helpful_yes", AnswerUp(log_id)),
            ctx.button("answers.helpful_no", AnswerDown(log_id)),
            *buttons,
        ]
    return text, buttons


def fall_back(ctx: Context, key: str, log_id: int | None) -> None:
    """Say kindly that we have no answer, with the menu, the contact and any extra buttons."""
    ctx.say(key, *_unanswered_buttons(ctx, log_id), *menu_buttons(ctx))


def ask_back(ctx: Context, match: Match, log_id: int) -> None:
    """Offer the closest entries as choices, and a way out when none fits."""
    buttons = []
    for entry_id in match.choices:
        entry = ctx.content.entry(entry_id)
        if entry is not None:
            buttons.append(
                ctx.button("answers.choice_button", AnswerPick(log_id, entry.id), title=entry.title)
            )
    buttons.append(ctx.button("answers.none_of_these", AnswerNone(log_id)))
    ctx.say("answers.ask_back", *buttons)


@router.text()
async def answer_question(ctx: Context) -> None:
    """Free text outside any flow: find the answer, or ask back, or fall back."""
    event = ctx.event
    if not isinstance(event, TextMessage) or not is_question(event.text):
        await not_understood(ctx)  # no words (a number, an emoji, "aaaa")
        return
    match = ctx.content.index.search(event.text)
    row = await AnswerRepo(ctx.session).log(
        user_id=ctx.user.id,
        channel=ctx.user.channel,
        text=event.text,
        normalised=match.normalised,
        outcome=match.outcome.value,
        entry_id=match.entry_id,
        choices=match.choices,
        score=match.score,
    )
    log_id = ctx.ref(row)  # the row is written with the turn; its id goes in the buttons
    entry = ctx.content.entry(match.entry_id) if match.entry_id else None
    if match.outcome == ANSWER and entry is not None:
        show_entry(ctx, entry, log_id)
    elif match.outcome == ASK and match.choices:
        ask_back(ctx, match, log_id)
    else:
        fall_back(ctx, "answers.fallback", log_id)


@router.button(AnswerShow)
async def show_related(ctx: Context, pressed: AnswerShow) -> None:
    """A related entry's button: show that entry (feedback still goes to the first question)."""
    entry = ctx.content.entry(pressed.entry)
    log_id = pressed.log
    if log_id is not None and await AnswerRepo(ctx.session).of_user(log_id, ctx.user.id) is None:
        log_id = None
    if entry is None:
        fall_back(ctx, "answers.gone", None)
        return
    show_entry(ctx, entry, log_id)


@router.button(AnswerSteps)
async def show_steps(ctx: Context, pressed: AnswerSteps) -> None:
    """Show the numbered steps ("Xem từng bước") with the related entries and the lesson."""
    entry = ctx.content.entry(pressed.entry)
    if entry is None or not entry.details:
        fall_back(ctx, "answers.gone", None)
        return
    log_id = pressed.log
    if log_id is not None and await AnswerRepo(ctx.session).of_user(log_id, ctx.user.id) is None:
        log_id = None
    steps = ctx.t("answers.steps", title=entry.title, details=entry.details)
    text, buttons = _with_feedback(ctx, steps, entry, log_id)
    ctx.send(Reply.with_buttons(text, [*buttons, menu_button(ctx)]))


@router.button(AnswerPick)
async def pick_choice(ctx: Context, pressed: AnswerPick) -> None:
    """One of the choices offered when asking back: record it and answer."""
    entry = ctx.content.entry(pressed.entry)
    if entry is None:
        fall_back(ctx, "answers.gone", None)
        return
    show_entry(ctx, entry, await AnswerRepo(ctx.session).chose(pressed.log, ctx.user.id, entry.id))


@router.button(AnswerNone)
async def none_of_these(ctx: Context, pressed: AnswerNone) -> None:
    """None of the choices fits: count it as unanswered and fall back."""
    log_id = await AnswerRepo(ctx.session).feedback(pressed.log, ctx.user.id, False)
    fall_back(ctx, "answers.none_fallback", log_id)


@router.button(AnswerUp)
async def helpful(ctx: Context, pressed: AnswerUp) -> None:
    """Thumbs up on an answer."""
    await AnswerRepo(ctx.session).feedback(pressed.log, ctx.user.id, True)
    ctx.say("answers.thanks", menu_button(ctx))


@router.button(AnswerDown)
async def not_helpful(ctx: Context, pressed: AnswerDown) -> None:
    """Thumbs down on an answer: apologise and show the ways forward."""
    log_id = await AnswerRepo(ctx.session).feedback(pressed.log, ctx.user.id, False)
    fall_back(ctx, "answers.sorry", log_id)


@router.command("reload", roles=ADMIN)
async def reload_content(ctx: Context) -> None:
    """Admins: reload the content now; on errors the bot keeps the last good content."""
    store = ctx.services.store
    problems = await store.reload(notify=False)  # the reply below reports to this admin
    if not problems:
        current = store.current
        ctx.say(
            "answers.reload_ok",
            menu_button(ctx),
            entries=len(current.knowledge),
            skills=len(current.lessons.skills),
        )
        return
    shown = problem_lines(problems, ctx.t("answers.reload_more"))
    ctx.say("answers.reload_failed", menu_button(ctx), count=len(problems), problems=shown)


def problem_lines(problems: list[Problem], more: str) -> str:
    """The first problems, one per line, and a note when there are more."""
    shown = "\n".join(f"- {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
    if len(problems) > MAX_PROBLEMS_SHOWN:
        shown += "\n" + more
    return shown


@router.button(AnswersUnanswered, roles=ADMIN)
@router.command("unanswered", roles=ADMIN)
async def unanswered(ctx: Context, _: AnswersUnanswered | None = None) -> None:
    """Admins: the questions that fell back and the answers that got 👎, with their counts,
    most asked first: the content still to write (``trolyso unanswered`` has the CSV)."""
    since = ctx.services.clock() - timedelta(days=UNANSWERED_DAYS)
    questions, entries = await AnswerRepo(ctx.session).unanswered_counts(since, MAX_UNANSWERED)
    if not questions and not entries:
        ctx.say("answers.unanswered_none", menu_button(ctx), days=UNANSWERED_DAYS)
        return
    lines = [ctx.t("answers.unanswered_head", days=UNANSWERED_DAYS)]
    for text, n in questions:
        lines.append(ctx.t("answers.unanswered_item", text=text[:80], n=n))
    if entries:
        lines.append(ctx.t("answers.unhelpful_head"))
    for entry_id, n in entries:
        entry = ctx.content.entry(entry_id)
        title = entry.title if entry is not None else entry_id
        lines.append(ctx.t("answers.unhelpful_item", title=title, id=entry_id, n=n))
    ctx.send(Reply.with_buttons("\n".join(lines), [menu_button(ctx)]))
