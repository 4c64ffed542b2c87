"""A lesson's places and views: the flow's data, where a citizen is (``current``), and showing
the list, a step, a quiz question and the result. The handlers are in handlers/lessons.py."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.content.lessons import QuizQuestion, Skill
from bot.core.context import Context
from bot.core.flows import Flow
from bot.core.hooks import Hook
from bot.core.replies import Reply
from handlers.menu import menu_button, menu_buttons
from handlers.payloads import (
    LessonAnswer,
    LessonList,
    LessonNext,
    LessonRetry,
    LessonReview,
    LessonStart,
    LessonStop,
    ProgressShow,
)
from storage.models import LessonAttempt, SkillCompletion
from storage.models.lessons import OPEN_STATUSES, QUIZ
from storage.repos.lessons import LessonRepo


@dataclass
class LessonData:
    """Which attempt the lesson flow is on (where in it lives in the database)."""

    skill: str
    attempt: int


FLOW = Flow("lesson", LessonData)

# After the result of a first pass that completes the five basic skills (the certificate).
FIVE_REACHED: Hook[Callable[[Context], Awaitable[None]]] = Hook("lessons.five_reached")
# After a new attempt at a skill started (its first step, or straight to the quiz).
STARTED: Hook[Callable[[Context, LessonAttempt], Awaitable[None]]] = Hook("lessons.started")
# After a skill was passed (every pass: ``completion.passes`` is 1 the first time).
PASSED: Hook[Callable[[Context, Skill, SkillCompletion], Awaitable[None]]] = Hook("lessons.passed")


@dataclass(frozen=True)
class Place:
    """The lesson a citizen is in: the skill (current content) and their open attempt."""

    skill: Skill
    attempt: LessonAttempt


def repo_of(ctx: Context) -> LessonRepo:
    return LessonRepo(ctx.session)


def channel_of(ctx: Context) -> str:
    return ctx.event.sender.channel


def enter_lesson(ctx: Context, attempt: LessonAttempt) -> None:
    ctx.enter(FLOW, LessonData(skill=attempt.skill_id, attempt=attempt.id))


async def started(ctx: Context, attempt: LessonAttempt) -> None:
    """Tell the features that follow lessons (reminders) that a new attempt started."""
    for contribution in ctx.extensions(STARTED):
        await contribution(ctx, attempt)


async def current(ctx: Context) -> Place | None:
    """The lesson this citizen is in, if the flow is a lesson whose attempt is still open."""
    data = ctx.flow_data(FLOW)
    if data is None:
        return None
    attempt = await repo_of(ctx).get(data.attempt, ctx.user.id)
    skill = ctx.content.lessons.get(attempt.skill_id) if attempt is not None else None
    if attempt is None or skill is None or attempt.status not in OPEN_STATUSES:
        ctx.leave()
        return None
    return Place(skill, attempt)


async def live(ctx: Context, attempt_id: int) -> Place | None:
    """The current lesson when ``attempt_id`` is its attempt; an open attempt may be picked up
    again when the citizen is in no flow (they had left it with "dừng")."""
    place = await current(ctx)
    if place is not None:
        return place if place.attempt.id == attempt_id else None
    if ctx.flow is not None:
        return None
    attempt = await repo_of(ctx).get(attempt_id, ctx.user.id)
    if attempt is None or attempt.status not in OPEN_STATUSES:
        return None
    skill = ctx.content.lessons.get(attempt.skill_id)
    if skill is None:
        return None
    enter_lesson(ctx, attempt)
    return Place(skill, attempt)


# --- showing ------------------------------------------------------------------------------------


def _list_label(ctx: Context, skill: Skill, passed: bool, going: bool) -> str:
    key = "lesson.list.going" if going else "lesson.list.passed" if passed else "lesson.list.todo"
    return ctx.t(key, title=skill.title)


async def show_list(ctx: Context) -> None:
    """The skills by job, each marked ✅ passed, ▶ in progress or ○ not started."""
    statuses = await repo_of(ctx).statuses(ctx.user.id)
    replies: list[Reply] = []
    for group in ctx.content.groups:
        skills = ctx.content.lessons.by_group(group.id)
        if not skills:
            continue
        heading = (
            ctx.t("lesson.list.job", job=group.job, title=group.title)
            if group.job
            else ctx.t("lesson.list.basics", title=group.title)
        )
        buttons = []
        for skill in skills:
            status = statuses.get(skill.id)
            passed = status is not None and status.passed
            going = status is not None and status.in_progress
            label = _list_label(ctx, skill, passed, going)
            buttons.append(ctx.labelled(label, LessonStart(skill.id)))
        replies.append(Reply.with_buttons(heading, buttons))
    if not replies:
        ctx.say("lesson.list.empty", *menu_buttons(ctx))
        return
    first = replies[0]
    replies[0] = Reply(ctx.t("lesson.list.title") + "\n\n" + first.text, first.buttons)
    last = replies[-1]
    replies[-1] = Reply(last.text, (*last.buttons, menu_button(ctx)))
    for reply in replies:
        ctx.send(reply)


async def step_position(ctx: Context, place: Place) -> int | None:
    """The 0-based index of the step to show now, or None when the steps are done.

    Follows the step id; when that step was removed from the lesson, the step now at its old
    position takes its place."""
    skill, attempt = place.skill, place.attempt
    if attempt.step_id is None:
        return 0 if skill.steps else None
    index = skill.step_index(attempt.step_id)
    if index is not None:
        return index
    reached = [s for s in await repo_of(ctx).steps(attempt.id) if s.step_id == attempt.step_id]
    position = reached[-1].position - 1 if reached else 0
    return position if position < len(skill.steps) else None


async def show_step(ctx: Context, place: Place, index: int) -> None:
    """Show step ``index`` with "Tiếp", and record that it was reached."""
    skill, attempt = place.skill, place.attempt
    step = skill.steps[index]
    await repo_of(ctx).reach_step(
        attempt, step.id, index + 1, channel_of(ctx), ctx.services.clock()
    )
    text = ctx.t(
        "lesson.step", title=skill.title, number=index + 1, count=len(skill.steps), text=step.text
    )
    buttons = (
        ctx.button("lesson.next", LessonNext(attempt.id, step.id)),
        ctx.button("lesson.stop_button", LessonStop(attempt.id)),
    )
    ctx.send(Reply(text=text, buttons=buttons, image=step.image))


async def _pending(ctx: Context, place: Place) -> list[QuizQuestion]:
    answered = await repo_of(ctx).answers(place.attempt.id)
    return [q for q in place.skill.quiz if q.id not in answered]


async def ask(ctx: Context, place: Place) -> None:
    """Ask the current question (the first one not answered yet), or give the result."""
    pending = await _pending(ctx, place)
    if not pending:
        await finish(ctx, place)
        return
    attempt, skill = place.attempt, place.skill
    question = next((q for q in pending if q.id == attempt.question_id), pending[0])
    await repo_of(ctx).ask(attempt, question.id, ctx.services.clock())
    number = len(skill.quiz) - len(pending) + 1
    text = ctx.t("lesson.question", number=number, count=len(skill.quiz), text=question.text)
    choices = [
        ctx.labelled(choice, LessonAnswer(attempt.id, question.id, position))
        for position, choice in enumerate(question.choices, start=1)
    ]
    ctx.send(Reply.question(text, choices))


async def start_quiz(ctx: Context, place: Place) -> None:
    """Announce the quiz, then ask its first question."""
    ctx.say("lesson.quiz_intro", count=len(place.skill.quiz))
    await ask(ctx, place)


async def show_current(ctx: Context, place: Place) -> None:
    """Show where the citizen is: the current step, or the current question."""
    if place.attempt.status == QUIZ:
        await ask(ctx, place)
        return
    index = await step_position(ctx, place)
    if index is None:
        await start_quiz(ctx, place)
    else:
        await show_step(ctx, place, index)


async def finish(ctx: Context, place: Place) -> None:
    """Score the attempt, record it (and the completion when passed), and show the result."""
    skill, attempt = place.skill, place.attempt
    answers = await repo_of(ctx).answers(attempt.id)
    right = {q.id: answers[q.id].correct for q in skill.quiz if q.id in answers}
    correct = sum(1 for ok in right.values() if ok)
    total = len(skill.quiz)
    passed = skill.rule.passed(right, skill.quiz)
    repo = repo_of(ctx)
    completion = await repo.finish(
        attempt, correct=correct, total=total, passed=passed, now=ctx.services.clock()
    )
    ctx.leave()
    five = passed and completion is not None and completion.passes == 1 and await _five_jobs(ctx)
    if passed:
        text = ctx.t("lesson.passed", title=skill.title, right=correct, total=total)
        if five:
            text += "\n\n" + ctx.t("progress.done")
        buttons = [
            ctx.button("lesson.other", LessonList()),
            ctx.button("lesson.progress_button", ProgressShow()),
            menu_button(ctx),
        ]
    else:
        needed = max(1, math.ceil(skill.rule.min_score * total - 1e-9))
        critical = any(q.critical for q in skill.quiz) and skill.rule.critical_all
        text = ctx.t(
            "lesson.failed",
            right=correct,
            total=total,
            needed=needed,
            critical=ctx.t("lesson.failed_critical") if critical else "",
        )
        buttons = [
            ctx.button("lesson.retry", LessonRetry(attempt.id)),
            ctx.button("lesson.review", LessonReview(attempt.id)),
            ctx.button("lesson.other", LessonList()),
        ]
    ctx.send(Reply.with_buttons(text, buttons))
    if passed and completion is not None:
        for contribution in ctx.extensions(PASSED):
            await contribution(ctx, skill, completion)
    for reached in ctx.extensions(FIVE_REACHED) if five else ():
        await reached(ctx)


async def _five_jobs(ctx: Context) -> bool:
    """Whether the citizen has passed a skill in each of the five jobs."""
    statuses = await repo_of(ctx).statuses(ctx.user.id)
    return ctx.content.lessons.reached_five(k for k, st in statuses.items() if st.passed)


async def over(ctx: Context, *, question: bool) -> None:
    """A button that is no longer valid: say so, and show where the citizen is now."""
    place = await current(ctx)
    if place is None:
        ctx.say("lesson.old", ctx.button("menu.lessons", LessonList()), menu_button(ctx))
        return
    ctx.say("lesson.over_question" if question else "lesson.over_step")
    await show_current(ctx, place)


async def start_lesson(ctx: Context, skill: Skill) -> None:
    """Open a skill: resume the citizen's open attempt at it, or start from the first step."""
    repo = repo_of(ctx)
    attempt = await repo.open_attempt(ctx.user.id, skill.id)
    if attempt is not None:
        place = Place(skill, attempt)
        enter_lesson(ctx, attempt)
        ctx.say("lesson.resumed", title=skill.title)
        await show_current(ctx, place)
        return
    attempt = await repo.start(ctx.user.id, skill.id, channel_of(ctx), now=ctx.services.clock())
    enter_lesson(ctx, attempt)
    await started(ctx, attempt)
    ctx.say(
        "lesson.intro",
        title=skill.title,
        summary=skill.summary,
        steps=len(skill.steps),
        questions=len(skill.quiz),
    )
    await show_step(ctx, Place(skill, attempt), 0)
