"""Lessons: the "Bài học" list, a lesson one step at a time, its quiz one question at a time.

Where a citizen is lives in the database (their open ``LessonAttempt``: the step reached or the
question asked), so a lesson resumes after hours or a restart. The conversation flow ``lesson``
only says which attempt is current. Every button payload carries the attempt id and the step or
question id, checked against that attempt: a button pressed twice, an old button or a forged one
never skips a step, counts an answer twice or passes a quiz; it gets "this is over" and the
current place again. Places follow step and question ids, so a lesson edited mid-way carries on.
"""

from __future__ import annotations

from bot.content.lessons import Skill
from bot.core.context import Context
from bot.core.events import TextMessage
from bot.core.replies import LETTERS, typed_key
from bot.core.router import Router
from handlers.lesson_steps import (
    FLOW,
    Place,
    ask,
    channel_of,
    current,
    enter_lesson,
    live,
    over,
    repo_of,
    show_current,
    show_list,
    show_step,
    start_lesson,
    start_quiz,
    started,
    step_position,
)
from handlers.menu import menu_buttons
from handlers.payloads import (
    LessonAnswer,
    LessonList,
    LessonNext,
    LessonResume,
    LessonRetry,
    LessonReview,
    LessonStart,
    LessonStop,
)
from storage.models import LessonAttempt
from storage.models.lessons import FAILED, PASSED, QUIZ, READING

router = Router("lessons")
router.flow(FLOW)


# --- handlers -----------------------------------------------------------------------------------


@router.button(LessonList)
@router.command("lessons")
async def lesson_list(ctx: Context, _: LessonList | None = None) -> None:
    """The "Bài học" list."""
    await show_list(ctx)


@router.button(LessonStart)
async def lesson_start(ctx: Context, pressed: LessonStart) -> None:
    """Start (or resume) the skill named in the payload."""
    skill = ctx.content.lessons.get(pressed.skill)
    if skill is None:
        ctx.say("lesson.missing")
        await show_list(ctx)
        return
    await start_lesson(ctx, skill)


@router.button(LessonNext)
async def lesson_next(ctx: Context, pressed: LessonNext) -> None:
    """ "Tiếp" on a step: the next step, or the quiz after the last one."""
    place = await live(ctx, pressed.attempt)
    if place is None:
        await over(ctx, question=False)
        return
    attempt, skill = place.attempt, place.skill
    step_id = pressed.step
    if attempt.status != READING or attempt.step_id != step_id:
        await over(ctx, question=False)
        return
    index = skill.step_index(step_id)
    if index is None:
        # The step was removed while the citizen read it: the one now in its place is next.
        ctx.say("lesson.changed")
        position = await step_position(ctx, place)
        following = position if position is not None else len(skill.steps)
    else:
        following = index + 1
    if following < len(skill.steps):
        await show_step(ctx, place, following)
    else:
        await start_quiz(ctx, place)


async def _answer(ctx: Context, place: Place, question_id: str, choice: int) -> None:
    """Record one answer to the current question, give feedback, then go on."""
    attempt, skill = place.attempt, place.skill
    if attempt.status != QUIZ or attempt.question_id != question_id:
        await over(ctx, question=True)
        return
    question = skill.question(question_id)
    if question is None:
        ctx.say("lesson.changed")
        await ask(ctx, place)
        return
    if not 1 <= choice <= len(question.choices):
        await over(ctx, question=True)
        return
    right = question.is_right(choice)
    stored = await repo_of(ctx).answer(
        attempt, question.id, choice, right, channel_of(ctx), ctx.services.clock()
    )
    if not stored:
        await over(ctx, question=True)
        return
    if right:
        ctx.say("lesson.right")
    else:
        ctx.say("lesson.wrong", answer=question.answer, explain=question.explain)
    await ask(ctx, place)


@router.button(LessonAnswer)
async def lesson_answer(ctx: Context, pressed: LessonAnswer) -> None:
    """An answer button of a quiz question."""
    place = await live(ctx, pressed.attempt)
    if place is None:
        await over(ctx, question=True)
        return
    await _answer(ctx, place, pressed.question, pressed.choice)


async def _again(ctx: Context, attempt_id: int) -> tuple[Skill, LessonAttempt] | None:
    """The skill and finished attempt a retry/review button names, if it is the newest one."""
    repo = repo_of(ctx)
    attempt = await repo.get(attempt_id, ctx.user.id)
    if attempt is None or attempt.status not in (PASSED, FAILED):
        return None
    latest = await repo.latest(ctx.user.id, attempt.skill_id)
    if latest is None or latest.id != attempt.id:
        return None
    skill = ctx.content.lessons.get(attempt.skill_id)
    return (skill, attempt) if skill is not None else None


@router.button(LessonRetry)
async def lesson_retry(ctx: Context, pressed: LessonRetry) -> None:
    """Take the quiz again, as a new attempt."""
    found = await _again(ctx, pressed.attempt)
    if found is None:
        await over(ctx, question=True)
        return
    skill = found[0]
    attempt = await repo_of(ctx).start(
        ctx.user.id, skill.id, channel_of(ctx), quiz_only=True, now=ctx.services.clock()
    )
    enter_lesson(ctx, attempt)
    await started(ctx, attempt)
    await ask(ctx, Place(skill, attempt))


@router.button(LessonReview)
async def lesson_review(ctx: Context, pressed: LessonReview) -> None:
    """Read the lesson again from the first step, as a new attempt."""
    found = await _again(ctx, pressed.attempt)
    if found is None:
        await over(ctx, question=False)
        return
    skill = found[0]
    attempt = await repo_of(ctx).start(
        ctx.user.id, skill.id, channel_of(ctx), now=ctx.services.clock()
    )
    enter_lesson(ctx, attempt)
    await started(ctx, attempt)
    await show_step(ctx, Place(skill, attempt), 0)


@router.button(LessonResume)
async def lesson_resume(ctx: Context, pressed: LessonResume) -> None:
    """ "Học tiếp" after a free question: show the current step or question again."""
    place = await live(ctx, pressed.attempt)
    if place is None:
        await over(ctx, question=False)
        return
    await show_current(ctx, place)


def _no_other_flow(ctx: Context) -> bool:
    """Whether no feature but the lessons owns the conversation."""
    return ctx.flow is None or ctx.in_flow(FLOW)


@router.command("lesson_continue", when=_no_other_flow)
async def lesson_continue(ctx: Context) -> None:
    """ "học tiếp": back to the current lesson, or the one last left, or the list."""
    place = await current(ctx)
    if place is not None:
        await show_current(ctx, place)
        return
    statuses = await repo_of(ctx).statuses(ctx.user.id)
    going = [s for s in ctx.content.lessons.skills if (st := statuses.get(s.id)) and st.in_progress]
    if len(going) == 1:
        await start_lesson(ctx, going[0])
    else:
        await show_list(ctx)


@router.command("stop", when=_no_other_flow)  # other flows have their own "stop"
async def stop_command(ctx: Context) -> None:
    """ "dừng" / "thoát": leave the lesson; it stays open to resume later."""
    await _stop(ctx, None)


@router.button(LessonStop)
async def lesson_stop(ctx: Context, pressed: LessonStop) -> None:
    """The "Dừng" button of a lesson."""
    await _stop(ctx, pressed.attempt)


async def _stop(ctx: Context, attempt_id: int | None) -> None:
    place = await current(ctx)
    if place is None:
        ctx.say("lesson.not_in_lesson", *menu_buttons(ctx))
        return
    if attempt_id is not None and attempt_id != place.attempt.id:
        await over(ctx, question=False)  # the stop button of another lesson
        return
    await repo_of(ctx).leave(place.attempt, ctx.services.clock())
    ctx.leave()
    ctx.say("lesson.stopped", *menu_buttons(ctx))


async def _in_lesson(ctx: Context) -> bool:
    return await current(ctx) is not None


@router.stale(flow=FLOW, when=_in_lesson)
async def lesson_stale(ctx: Context) -> None:
    """An unknown or expired button in the middle of a lesson: say so, show the current place."""
    place = await current(ctx)
    await over(ctx, question=place is not None and place.attempt.status == QUIZ)


def _letter(text: str) -> str | None:
    """The answer letter typed: "b", "B." or "B)"; a number counts as its letter ("1" is A,
    also as a keycap "1️⃣"), since a text-only channel numbers everything else."""
    key = typed_key(text).strip()
    if key.isdigit() and len(key) <= 2:
        position = int(key)
        return LETTERS[position - 1] if 1 <= position <= len(LETTERS) else "?"
    return key if len(key) == 1 and key.isalpha() and key.isascii() else None


async def _quiz_letter(ctx: Context) -> bool:
    """Whether the text is one letter typed while a quiz question is asked."""
    if not isinstance(ctx.event, TextMessage) or _letter(ctx.event.text) is None:
        return False
    place = await current(ctx)
    return place is not None and place.attempt.status == QUIZ


@router.text(flow=FLOW, when=_quiz_letter)
async def lesson_text(ctx: Context) -> None:
    """A letter typed during the quiz answers the current question; other text is a free
    question for the knowledge base (then ``offer_resume`` offers to continue)."""
    assert isinstance(ctx.event, TextMessage)
    place = await current(ctx)
    letter = _letter(ctx.event.text)
    if place is None or letter is None:
        return
    question = place.skill.question(place.attempt.question_id or "")
    if question is None:
        await show_current(ctx, place)
        return
    position = LETTERS.find(letter) + 1  # 0 for "?": a number beyond the letters
    if not 1 <= position <= len(question.choices):
        letters = ", ".join(LETTERS[: len(question.choices)])
        ctx.say("lesson.choose_letter", letters=letters)
        await ask(ctx, place)
        return
    await _answer(ctx, place, question.id, position)


@router.resume(FLOW)
async def offer_resume(ctx: Context) -> None:
    """After a free question answered mid-lesson: offer to continue where the citizen was."""
    place = await current(ctx)
    if place is None:
        return
    buttons = [
        ctx.button("lesson.continue", LessonResume(place.attempt.id)),
        ctx.button("lesson.stop_button", LessonStop(place.attempt.id)),
    ]
    ctx.say("lesson.offer", *buttons, title=place.skill.title)
