"""Gentle reminders and spaced review (issue 20 items 3 and 4): scheduling, answers, opting out.

- A new lesson attempt (``lesson_steps.STARTED``) schedules the lesson's one reminder
  ``nudges.after_days`` later; the nudge worker (``bot/broadcast/nudges.py``) sends it only if
  the lesson is still unfinished and has not moved for that long, with a button that resumes
  it and one that turns reminders off.
- A first pass of a skill of ``nudges.review_group`` (``lesson_steps.PASSED``) schedules its
  review questions after each of ``nudges.review_days``. The citizen answers with the buttons;
  a wrong answer shows the right one and the explanation, as in the quiz. Answers are stored
  (``review_answers``) and the progress view shows what is remembered (``memory``).
- The ``nudges_off`` / ``nudges_on`` intents (content/intents/nudges.yaml, or the buttons) turn
  both off and on; the broadcasts' opt-out stops them too. Nothing is sent in quiet hours or
  outside Zalo's window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.broadcast.nudge_text import review_questions, review_reply
from bot.content.lessons import Skill
from bot.core.context import Context
from bot.core.replies import Button
from bot.core.router import Router
from handlers.lesson_steps import PASSED, STARTED
from handlers.menu import menu_button
from handlers.payloads import LessonStart, NudgeAnswer, NudgeOff, NudgeOn, ProgressShow
from storage.models import LessonAttempt, SkillCompletion
from storage.models.broadcasts import SENT
from storage.models.nudges import REVIEW
from storage.repos.nudges import NudgeRepo

router = Router("nudges")


# --- scheduling, when lessons happen --------------------------------------------------------


async def _lesson_started(ctx: Context, attempt: LessonAttempt) -> None:
    config = ctx.services.config.nudges
    if not config.enabled:
        return
    now = ctx.services.clock()
    due = now + timedelta(days=config.after_days)
    await NudgeRepo(ctx.session).remind(ctx.user.id, attempt.skill_id, attempt.channel, due, now)


async def _skill_passed(ctx: Context, skill: Skill, completion: SkillCompletion) -> None:
    config = ctx.services.config.nudges
    if not config.enabled or skill.group != config.review_group or not skill.quiz:
        return
    now = ctx.services.clock()
    dues = [now + timedelta(days=days) for days in config.review_days]
    await NudgeRepo(ctx.session).schedule_reviews(
        ctx.user.id, skill.id, completion.channel, dues, now
    )


router.extend(STARTED, _lesson_started)
router.extend(PASSED, _skill_passed)


# --- "tắt nhắc" / "bật nhắc" ----------------------------------------------------------------


@router.button(NudgeOff)
@router.command("nudges_off")
async def nudges_off(ctx: Context, _: NudgeOff | None = None) -> None:
    """No more reminders and review questions; says how to turn them on again."""
    changed = await NudgeRepo(ctx.session).turn_off(ctx.user.id, ctx.services.clock())
    on = ctx.button("nudge.on_button", NudgeOn())
    ctx.say("nudge.off" if changed else "nudge.off_already", on, menu_button(ctx))


@router.button(NudgeOn)
@router.command("nudges_on")
async def nudges_on(ctx: Context, _: NudgeOn | None = None) -> None:
    """Reminders and review questions again."""
    changed = await NudgeRepo(ctx.session).turn_on(ctx.user.id)
    ctx.say("nudge.on" if changed else "nudge.on_already", menu_button(ctx))


# --- review answers ---------------------------------------------------------------------------


@router.button(NudgeAnswer)
async def review_answer(ctx: Context, pressed: NudgeAnswer) -> None:
    """An answer to a review question: right, or the right answer and why; then the next
    question of the review, or the end."""
    repo = NudgeRepo(ctx.session)
    nudge = await repo.get(pressed.nudge, ctx.user.id)
    skill = ctx.content.lessons.get(nudge.skill_id) if nudge is not None else None
    if nudge is None or skill is None or nudge.kind != REVIEW or nudge.state != SENT:
        ctx.say("nudge.review_over", menu_button(ctx))
        return
    questions = review_questions(skill, nudge.step, ctx.services.config.nudges.review_questions)
    question = next((q for q in questions if q.id == pressed.question), None)
    if question is None or not 1 <= pressed.choice <= len(question.choices):
        ctx.say("nudge.review_over", menu_button(ctx))
        return
    right = question.is_right(pressed.choice)
    now = ctx.services.clock()
    if not await repo.answer(nudge, question.id, pressed.choice, right, now):
        ctx.say("nudge.review_answered", menu_button(ctx))
        return
    if right:
        ctx.say("nudge.review_right")
    else:
        ctx.say("nudge.review_wrong", answer=question.answer, explain=question.explain)
    answered = await repo.answered(nudge.id)
    following = next((q for q in questions if q.id not in answered), None)
    if following is not None:
        ctx.send(review_reply(ctx.content.messages, skill, nudge.id, following, first=False))
        return
    buttons = [ctx.button("nudge.progress_button", ProgressShow()), menu_button(ctx)]
    if not all(answered.values()):
        buttons.insert(0, ctx.button("nudge.relearn_button", LessonStart(skill.id)))
    ctx.say("nudge.review_done", *buttons)


# --- what the progress view shows -----------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """Skills with spaced review the citizen passed: remembered well, or worth reviewing."""

    firm: list[Skill]
    review: list[Skill]


async def memory(ctx: Context, passed: dict[str, datetime]) -> Memory:
    """Of the skills passed (skill id -> last passed), those with reviews (``review_group``):

    - remembered (``nudge.firm``): the newest review answer was right, or the skill was passed
      again after a wrong one, or it was passed less than the last review day ago;
    - to review (``nudge.to_review``): the newest review answer was wrong (and no pass since), or it
      was passed longer ago than the last review day and no review answer was right.
    """
    config = ctx.services.config.nudges
    results = await NudgeRepo(ctx.session).review_results(ctx.user.id)
    horizon = timedelta(days=max(config.review_days, default=0))
    now = ctx.services.clock()
    firm: list[Skill] = []
    review: list[Skill] = []
    for skill in ctx.content.lessons.by_group(config.review_group):
        last_passed = passed.get(skill.id)
        if last_passed is None:
            continue
        result = results.get(skill.id)
        if result is not None:
            ok = result.correct or last_passed > result.answered_at
        else:
            ok = now - last_passed <= horizon
        (firm if ok else review).append(skill)
    return Memory(firm, review)


async def toggle_button(ctx: Context) -> Button:
    """ "Tắt nhắc", or "Bật nhắc" when the citizen turned them off."""
    if await NudgeRepo(ctx.session).is_off(ctx.user.id):
        return ctx.button("nudge.on_button", NudgeOn())
    return ctx.button("nudge.off_button", NudgeOff())


def memory_text(ctx: Context, found: Memory) -> str:
    """The progress view's block on what is remembered (empty when nothing to say)."""
    lines = []
    if found.firm:
        lines.append(ctx.t("nudge.firm", titles=", ".join(s.title for s in found.firm)))
    if found.review:
        lines.append(ctx.t("nudge.to_review", titles=", ".join(s.title for s in found.review)))
    return "\n".join(lines)


def relearn_button(ctx: Context, found: Memory) -> Button | None:
    """ "Ôn lại" the first skill worth reviewing."""
    if not found.review:
        return None
    return ctx.button("nudge.relearn_button", LessonStart(found.review[0].id))


__all__ = ["Memory", "memory", "memory_text", "relearn_button", "router", "toggle_button"]
