"""What a reminder and a review question say, shared by the nudge worker and the handler that
takes the answers (``handlers/nudges.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.replies import Button, Reply
from handlers.payloads import LessonStart, NudgeAnswer, NudgeOff

if TYPE_CHECKING:
    from bot.content.lessons import QuizQuestion, Skill
    from bot.content.messages import Messages


def review_questions(skill: Skill, step: int, count: int) -> list[QuizQuestion]:
    """The quiz questions of review ``step`` (1-based): ``count`` of them, critical ones first,
    a different one each step as far as the quiz goes."""
    quiz = sorted(skill.quiz, key=lambda q: not q.critical)  # stable: content order otherwise
    if not quiz:
        return []
    count = min(count, len(quiz))
    start = (max(1, step) - 1) * count
    return [quiz[(start + i) % len(quiz)] for i in range(count)]


def reminder_reply(messages: Messages, skill: Skill) -> Reply:
    """The one reminder of a lesson left unfinished, with "Học tiếp" and "Tắt nhắc"."""
    buttons = (
        Button(messages("nudge.continue"), LessonStart(skill.id).pack()),
        Button(messages("nudge.off_button"), NudgeOff().pack()),
    )
    text = messages("nudge.reminder", title=skill.title)
    return Reply(text=text, buttons=buttons, key="nudge.reminder")


def review_reply(
    messages: Messages, skill: Skill, nudge_id: int, question: QuizQuestion, first: bool
) -> Reply:
    """A review question with its choices as buttons (``first``: with the greeting line)."""
    text = messages("nudge.review_question", text=question.text)
    if first:
        text = messages("nudge.review_intro", title=skill.title) + "\n\n" + text
    choices = [
        Button(choice, NudgeAnswer(nudge_id, question.id, position).pack())
        for position, choice in enumerate(question.choices, start=1)
    ]
    return Reply(text=text, buttons=tuple(choices), choices=True, key="nudge.review_question")
