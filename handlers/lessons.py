"""Lessons: the "Bài học" list, a lesson one step at a time, its quiz one question at a time.

Where a citizen is lives in the database (their open ``LessonAttempt``: the step reached or the
question asked), so a lesson resumes after hours or a restart. The conversation flow ``lesson``
only says which attempt is current. Every button payload carries the attempt id and the step or
question id, checked against that attempt: a button pressed twice, an old button or a forged one
never skips a step, counts an answer twice or passes a quiz; it gets "this is over" and the
current place again. Places follow step and question ids, so a lesson edited mid-way carries on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.content.lessons import QuizQuestion, Skill
from bot.core.context import Context
from bot.core.events import ButtonPress, TextMessage
from bot.core.replies import LETTERS, Button, Reply
from bot.core.router import Router
from handlers.menu import menu_button, menu_buttons
from storage.models import LessonAttempt
from storage.models.lessons import FAILED, OPEN_STATUSES, PASSED, QUIZ, READING
from storage.repos.lessons import LessonRepo

router = Router("lessons")

FLOW = "lesson"
MAX_ID = 12  # digits of an attempt id in a payload


@dataclass(frozen=True)
class Place:
    """The lesson a citizen is in: the skill (current content) and their open attempt."""

    skill: Skill
    attempt: LessonAttempt


def _repo(ctx: Context) -> LessonRepo:
    return LessonRepo(ctx.session)


def _channel(ctx: Context) -> str:
    return ctx.event.sender.channel


def _attempt_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) <= MAX_ID else None


def _args(ctx: Context, prefix: str, count: int) -> list[str] | None:
    """The ``count`` colon-separated arguments after ``prefix`` in the pressed payload."""
    if not isinstance(ctx.event, ButtonPress):
        return None
    parts = ctx.event.payload[len(prefix) :].split(":")
    return parts if len(parts) == count and all(parts) else None


def _enter(ctx: Context, attempt: LessonAttempt) -> None:
    ctx.enter(FLOW, {"skill": attempt.skill_id, "attempt": attempt.id})


async def current(ctx: Context) -> Place | None:
    """The lesson this citizen is in, if the flow is a lesson whose attempt is still open."""
    if ctx.flow != FLOW:
        return None
    raw = ctx.data.get("attempt")
    attempt = await _repo(ctx).get(raw, ctx.user.id) if isinstance(raw, int) else None
    skill = ctx.content.lessons.get(attempt.skill_id) if attempt is not None else None
    if attempt is None or skill is None or attempt.status not in OPEN_STATUSES:
        ctx.leave()
        return None
    return Place(skill, attempt)


async def _live(ctx: Context, raw: str) -> Place | None:
    """The current lesson when ``raw`` names its attempt; an open attempt may be picked up again
    when the citizen is in no flow (they had left it with "dừng")."""
    attempt_id = _attempt_id(raw)
    if attempt_id is None:
        return None
    place = await current(ctx)
    if place is not None:
        return place if place.attempt.id == attempt_id else None
    if ctx.flow is not None:
        return None
    attempt = await _repo(ctx).get(attempt_id, ctx.user.id)
    if attempt is None or attempt.status not in OPEN_STATUSES:
        return None
    skill = ctx.content.lessons.get(attempt.skill_id)
    if skill is None:
        return None
    _enter(ctx, attempt)
    return Place(skill, attempt)


# --- showing ------------------------------------------------------------------------------------


def _list_label(ctx: Context, skill: Skill, passed: bool, going: bool) -> str:
    key = "lesson.list.going" if going else "lesson.list.passed" if passed else "lesson.list.todo"
    return ctx.t(key, title=skill.title)


async def show_list(ctx: Context) -> None:
    """The skills by job, each marked ✅ passed, ▶ in progress or ○ not started."""
    statuses = await _repo(ctx).statuses(ctx.user.id)
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
            buttons.append(Button(label, f"lesson:start:{skill.id}"))
        replies.append(Reply.with_buttons(heading, buttons))
    if not replies:
        ctx.send(Reply.with_buttons(ctx.t("lesson.list.empty"), menu_buttons(ctx)))
        return
    first = replies[0]
    replies[0] = Reply(ctx.t("lesson.list.title") + "\n\n" + first.text, first.buttons)
    last = replies[-1]
    replies[-1] = Reply(last.text, (*last.buttons, menu_button(ctx)))
    for reply in replies:
        ctx.send(reply)


async def _step_position(ctx: Context, place: Place) -> int | None:
    """The 0-based index of the step to show now, or None when the steps are done.

    Follows the step id; when that step was removed from the lesson, the step now at its old
    position takes its place."""
    skill, attempt = place.skill, place.attempt
    if attempt.step_id is None:
        return 0 if skill.steps else None
    index = skill.step_index(attempt.step_id)
    if index is not None:
        return index
    reached = [s for s in await _repo(ctx).steps(attempt.id) if s.step_id == attempt.step_id]
    position = reached[-1].position - 1 if reached else 0
    return position if position < len(skill.steps) else None


async def show_step(ctx: Context, place: Place, index: int) -> None:
    """Show step ``index`` with "Tiếp", and record that it was reached."""
    skill, attempt = place.skill, place.attempt
    step = skill.steps[index]
    await _repo(ctx).reach_step(attempt, step.id, index + 1, _channel(ctx), ctx.services.clock())
    text = ctx.t(
        "lesson.step", title=skill.title, number=index + 1, count=len(skill.steps), text=step.text
    )
    buttons = (
        ctx.button("lesson.next", f"lesson:next:{attempt.id}:{step.id}"),
        ctx.button("lesson.stop_button", f"lesson:stop:{attempt.id}"),
    )
    ctx.send(Reply(text=text, buttons=buttons, image=step.image))


async def _pending(ctx: Context, place: Place) -> list[QuizQuestion]:
    answered = await _repo(ctx).answers(place.attempt.id)
    return [q for q in place.skill.quiz if q.id not in answered]


async def ask(ctx: Context, place: Place) -> None:
    """Ask the current question (the first one not answered yet), or give the result."""
    pending = await _pending(ctx, place)
    if not pending:
        await finish(ctx, place)
        return
    attempt, skill = place.attempt, place.skill
    question = next((q for q in pending if q.id == attempt.question_id), pending[0])
    await _repo(ctx).ask(attempt, question.id, ctx.services.clock())
    number = len(skill.quiz) - len(pending) + 1
    text = ctx.t("lesson.question", number=number, count=len(skill.quiz), text=question.text)
    choices = [
        Button(choice, f"lesson:ans:{attempt.id}:{question.id}:{position}")
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
    index = await _step_position(ctx, place)
    if index is None:
        await start_quiz(ctx, place)
    else:
        await show_step(ctx, place, index)


async def finish(ctx: Context, place: Place) -> None:
    """Score the attempt, record it (and the completion when passed), and show the result."""
    skill, attempt = place.skill, place.attempt
    answers = await _repo(ctx).answers(attempt.id)
    right = {q.id: answers[q.id].correct for q in skill.quiz if q.id in answers}
    correct = sum(1 for ok in right.values() if ok)
    total = len(skill.quiz)
    passed = skill.rule.passed(right, skill.quiz)
    repo = _repo(ctx)
    completion = await repo.finish(
        attempt, correct=correct, total=total, passed=passed, now=ctx.services.clock()
    )
    ctx.leave()
    if passed:
        text = ctx.t("lesson.passed", title=skill.title, right=correct, total=total)
        if completion is not None and completion.passes == 1 and await _five_jobs(ctx):
            text += "\n\n" + ctx.t("progress.done")
        buttons = [
            ctx.button("lesson.other", "lesson:list"),
            ctx.button("lesson.progress_button", "progress:show"),
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
            ctx.button("lesson.retry", f"lesson:retry:{attempt.id}"),
            ctx.button("lesson.review", f"lesson:review:{attempt.id}"),
            ctx.button("lesson.other", "lesson:list"),
        ]
    ctx.send(Reply.with_buttons(text, buttons))


async def _five_jobs(ctx: Context) -> bool:
    """Whether the citizen has passed a skill in each of the five jobs."""
    statuses = await _repo(ctx).statuses(ctx.user.id)
    return ctx.content.lessons.reached_five(k for k, st in statuses.items() if st.passed)


async def over(ctx: Context, *, question: bool) -> None:
    """A button that is no longer valid: say so, and show where the citizen is now."""
    place = await current(ctx)
    if place is None:
        ctx.send(
            Reply.with_buttons(
                ctx.t("lesson.old"),
                [ctx.button("menu.lessons", "lesson:list"), menu_button(ctx)],
            )
        )
        return
    ctx.say("lesson.over_question" if question else "lesson.over_step")
    await show_current(ctx, place)


async def start_lesson(ctx: Context, skill: Skill) -> None:
    """Open a skill: resume the citizen's open attempt at it, or start from the first step."""
    repo = _repo(ctx)
    attempt = await repo.open_attempt(ctx.user.id, skill.id)
    if attempt is not None:
        place = Place(skill, attempt)
        _enter(ctx, attempt)
        ctx.say("lesson.resumed", title=skill.title)
        await show_current(ctx, place)
        return
    attempt = await repo.start(ctx.user.id, skill.id, _channel(ctx), now=ctx.services.clock())
    _enter(ctx, attempt)
    ctx.say(
        "lesson.intro",
        title=skill.title,
        summary=skill.summary,
        steps=len(skill.steps),
        questions=len(skill.quiz),
    )
    await show_step(ctx, Place(skill, attempt), 0)


# --- handlers -----------------------------------------------------------------------------------


@router.command("lessons")
@router.button("lesson:list")
async def lesson_list(ctx: Context) -> None:
    """The "Bài học" list."""
    await show_list(ctx)


@router.button("lesson:start:")
async def lesson_start(ctx: Context) -> None:
    """Start (or resume) the skill named in the payload."""
    args = _args(ctx, "lesson:start:", 1)
    skill = ctx.content.lessons.get(args[0]) if args else None
    if skill is None:
        ctx.say("lesson.missing")
        await show_list(ctx)
        return
    await start_lesson(ctx, skill)


@router.button("lesson:next:")
async def lesson_next(ctx: Context) -> None:
    """ "Tiếp" on a step: the next step, or the quiz after the last one."""
    args = _args(ctx, "lesson:next:", 2)
    place = await _live(ctx, args[0]) if args else None
    if args is None or place is None:
        await over(ctx, question=False)
        return
    attempt, skill = place.attempt, place.skill
    step_id = args[1]
    if attempt.status != READING or attempt.step_id != step_id:
        await over(ctx, question=False)
        return
    index = skill.step_index(step_id)
    if index is None:
        # The step was removed while the citizen read it: the one now in its place is next.
        ctx.say("lesson.changed")
        position = await _step_position(ctx, place)
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
    stored = await _repo(ctx).answer(
        attempt, question.id, choice, right, _channel(ctx), ctx.services.clock()
    )
    if not stored:
        await over(ctx, question=True)
        return
    if right:
        ctx.say("lesson.right")
    else:
        ctx.say("lesson.wrong", answer=question.answer, explain=question.explain)
    await ask(ctx, place)


@router.button("lesson:ans:")
async def lesson_answer(ctx: Context) -> None:
    """An answer button of a quiz question."""
    args = _args(ctx, "lesson:ans:", 3)
    place = await _live(ctx, args[0]) if args else None
    if args is None or place is None or not args[2].isdigit() or len(args[2]) > 2:
        await over(ctx, question=True)
        return
    await _answer(ctx, place, args[1], int(args[2]))


async def _again(ctx: Context, prefix: str) -> tuple[Skill, LessonAttempt] | None:
    """The skill and finished attempt a retry/review button names, if it is the newest one."""
    args = _args(ctx, prefix, 1)
    attempt_id = _attempt_id(args[0]) if args else None
    repo = _repo(ctx)
    attempt = await repo.get(attempt_id, ctx.user.id) if attempt_id is not None else None
    if attempt is None or attempt.status not in (PASSED, FAILED):
        return None
    latest = await repo.latest(ctx.user.id, attempt.skill_id)
    if latest is None or latest.id != attempt.id:
        return None
    skill = ctx.content.lessons.get(attempt.skill_id)
    return (skill, attempt) if skill is not None else None


@router.button("lesson:retry:")
async def lesson_retry(ctx: Context) -> None:
    """Take the quiz again, as a new attempt."""
    found = await _again(ctx, "lesson:retry:")
    if found is None:
        await over(ctx, question=True)
        return
    skill = found[0]
    attempt = await _repo(ctx).start(
        ctx.user.id, skill.id, _channel(ctx), quiz_only=True, now=ctx.services.clock()
    )
    _enter(ctx, attempt)
    await ask(ctx, Place(skill, attempt))


@router.button("lesson:review:")
async def lesson_review(ctx: Context) -> None:
    """Read the lesson again from the first step, as a new attempt."""
    found = await _again(ctx, "lesson:review:")
    if found is None:
        await over(ctx, question=False)
        return
    skill = found[0]
    attempt = await _repo(ctx).start(ctx.user.id, skill.id, _channel(ctx), now=ctx.services.clock())
    _enter(ctx, attempt)
    await show_step(ctx, Place(skill, attempt), 0)


@router.button("lesson:resume:")
async def lesson_resume(ctx: Context) -> None:
    """ "Học tiếp" after a free question: show the current step or question again."""
    args = _args(ctx, "lesson:resume:", 1)
    place = await _live(ctx, args[0]) if args else None
    if place is None:
        await over(ctx, question=False)
        return
    await show_current(ctx, place)


@router.command("lesson_continue")
async def lesson_continue(ctx: Context) -> bool | None:
    """ "học tiếp": back to the current lesson, or the one last left, or the list."""
    place = await current(ctx)
    if place is not None:
        await show_current(ctx, place)
        return None
    if ctx.flow is not None:
        return False
    statuses = await _repo(ctx).statuses(ctx.user.id)
    going = [s for s in ctx.content.lessons.skills if (st := statuses.get(s.id)) and st.in_progress]
    if len(going) == 1:
        await start_lesson(ctx, going[0])
    else:
        await show_list(ctx)
    return None


@router.command("stop")
@router.button("lesson:stop:")
async def lesson_stop(ctx: Context) -> bool | None:
    """ "dừng" / "thoát": leave the lesson; it stays open to resume later."""
    place = await current(ctx)
    pressed = isinstance(ctx.event, ButtonPress)
    if place is None:
        if ctx.flow is not None and not pressed:
            return False  # another feature's flow: its own "stop" handles it
        ctx.send(Reply.with_buttons(ctx.t("lesson.not_in_lesson"), menu_buttons(ctx)))
        return None
    args = _args(ctx, "lesson:stop:", 1) if pressed else None
    if pressed and (args is None or _attempt_id(args[0]) != place.attempt.id):
        await over(ctx, question=False)  # the stop button of another lesson
        return None
    await _repo(ctx).leave(place.attempt, ctx.services.clock())
    ctx.leave()
    ctx.send(Reply.with_buttons(ctx.t("lesson.stopped"), menu_buttons(ctx)))
    return None


@router.stale(flow=FLOW)
async def lesson_stale(ctx: Context) -> bool | None:
    """An unknown or expired button in the middle of a lesson: say so, show the current place."""
    place = await current(ctx)
    if place is None:
        return False
    await over(ctx, question=place.attempt.status == QUIZ)
    return None


def _letter(text: str) -> str | None:
    key = text.strip().rstrip(".)").strip().upper()
    return key if len(key) == 1 and key.isalpha() and key.isascii() else None


@router.text(flow=FLOW)
async def lesson_text(ctx: Context) -> bool | None:
    """A letter typed during the quiz answers the current question; other text is a free
    question for the knowledge base (then ``offer_resume`` offers to continue)."""
    assert isinstance(ctx.event, TextMessage)
    place = await current(ctx)
    if place is None or place.attempt.status != QUIZ:
        return False
    letter = _letter(ctx.event.text)
    if letter is None:
        return False
    question = place.skill.question(place.attempt.question_id or "")
    if question is None:
        await show_current(ctx, place)
        return None
    position = LETTERS.find(letter) + 1
    if not 1 <= position <= len(question.choices):
        letters = ", ".join(LETTERS[: len(question.choices)])
        ctx.say("lesson.choose_letter", letters=letters)
        await ask(ctx, place)
        return None
    await _answer(ctx, place, question.id, position)
    return None


@router.resume(FLOW)
async def offer_resume(ctx: Context) -> None:
    """After a free question answered mid-lesson: offer to continue where the citizen was."""
    place = await current(ctx)
    if place is None:
        return
    buttons = [
        ctx.button("lesson.continue", f"lesson:resume:{place.attempt.id}"),
        ctx.button("lesson.stop_button", f"lesson:stop:{place.attempt.id}"),
    ]
    ctx.send(Reply.with_buttons(ctx.t("lesson.offer", title=place.skill.title), buttons))
