"""Questions the bot couldn't answer reaching a human on the citizen's team.

The "send to the team" button puts a citizen's question in their team's queue (no team: the
admin queue) and pushes it to the team's members on their own channels; a member presses
"answer", types it, and it is delivered to the citizen on the citizen's channel.

Answering and the queue are for staff only (``roles=STAFF``), and the team of the question is
checked against the member's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.context import Context, Receipt
from bot.core.events import TextMessage
from bot.core.flows import TYPING_LAPSE, Flow
from bot.core.replies import Button, Reply
from bot.core.router import STAFF, Router
from bot.outreach import to_citizen
from bot.reports.build import VIETNAM, display_name
from handlers.answers import UNANSWERED, logged_question
from handlers.menu import menu_button
from handlers.payloads import (
    TEAM_QUESTION_BUTTONS,
    AnswerQuestion,
    CancelWriting,
    SendLogged,
    TeamQueue,
    WriteQuestion,
)
from handlers.scope import ALL, Scope, team_scope
from handlers.team_tools import home_button
from storage.models import Role, Team, TeamQuestion
from storage.models.zalo_oa import outside_window
from storage.repos.followup import NoteRepo
from storage.repos.teams import QuestionRepo, TeamRepo
from storage.repos.threads import ThreadRepo
from storage.repos.users import UserRepo

router = Router("team_questions")

MAX_QUEUE = 10  # open questions listed at once


@dataclass
class Writing:
    """Writing a question for the team, since ``at`` (ISO time)."""

    at: str


@dataclass
class Answering:
    """A member writing the answer to ``question``, since ``at`` (ISO time)."""

    at: str
    question: int


# Writing ends when the user does anything but type it (a command, another button): their next
# free text must not be sent to someone by surprise.
WRITE_FLOW = router.flow(Flow("tq_write", Writing, keeps=TEAM_QUESTION_BUTTONS, lapse=TYPING_LAPSE))
ANSWER_FLOW = router.flow(
    Flow("tq_answer", Answering, keeps=TEAM_QUESTION_BUTTONS, lapse=TYPING_LAPSE)
)


def _writing(ctx: Context) -> bool:
    return ctx.flow_data(WRITE_FLOW) is not None


def _answering(ctx: Context) -> bool:
    return ctx.flow_data(ANSWER_FLOW) is not None


def _now(ctx: Context) -> str:
    return ctx.services.clock().isoformat()


async def send_question(ctx: Context, text: str, source: str) -> None:
    """Queue the user's question for their team (or the admins) and push it to them."""
    text = text.strip()
    if not text:
        ctx.say("question.empty", menu_button(ctx))
        return
    teams = TeamRepo(ctx.session)
    team = await teams.team_of(ctx.user.id)
    question, new = await QuestionRepo(ctx.session).ask(
        ctx.user, team.id if team else None, text, source, ctx.services.clock()
    )
    if not new:
        ctx.say("question.already_sent", menu_button(ctx))
        return
    recipients = await teams.staff(team.id) if team is not None else []
    name = display_name(ctx.user, ctx.content.messages)
    if team is not None and recipients:
        message = ctx.t("question.new", team=team.name, name=name, text=question.text)
    else:
        recipients = await teams.admins()
        message = ctx.t("question.new_admin", name=name, text=question.text)
        if team is not None:
            message = ctx.t("question.new", team=team.name, name=name, text=question.text)
    message += await note_line(ctx, ctx.user.id, team.id if team else None)
    answer = ctx.button("question.answer_button", AnswerQuestion(question.id))
    for recipient in recipients:
        if recipient.id != ctx.user.id:
            ctx.push(recipient.id, Reply.with_buttons(message, [answer]))
    if team is not None:
        ctx.say("question.sent", menu_button(ctx), team=team.name)
    else:
        ctx.say("question.sent_admin", menu_button(ctx))


async def note_line(ctx: Context, citizen_id: int, team_id: int | None) -> str:
    """The team's note on the citizen as a line for its members ("" when none)."""
    note = await NoteRepo(ctx.session).get(citizen_id, team_id) if team_id else None
    return "\n" + ctx.t("notes.line", note=note.text).strip() if note is not None else ""


def send_to_team_button(ctx: Context, log_id: int) -> Button | None:
    """ "Gửi câu hỏi cho tổ" under a question the bot left unanswered (handlers/answers.py)."""
    return ctx.button("question.send_button", SendLogged(log_id))


router.extend(UNANSWERED, send_to_team_button)


@router.button(SendLogged)
async def send_logged_question(ctx: Context, pressed: SendLogged) -> None:
    """Send a question the bot could not answer (from the question log) to the team."""
    logged = await logged_question(ctx, pressed.log)
    if logged is None:
        ctx.say("question.nothing_to_send", menu_button(ctx))
        return
    text, not_helpful = logged
    await send_question(ctx, text, "feedback" if not_helpful else "fallback")


@router.button(WriteQuestion)
@router.command("askteam")
async def write_question(ctx: Context, _: WriteQuestion | None = None) -> None:
    """Ask the user to type the question for their team."""
    team = await TeamRepo(ctx.session).team_of(ctx.user.id)
    ctx.enter(WRITE_FLOW, Writing(at=_now(ctx)))
    cancel = ctx.button("question.cancel_button", CancelWriting())
    if team is not None:
        ctx.say("question.write_prompt", cancel, team=team.name)
    else:
        ctx.say("question.write_prompt_admin", cancel)


@router.text(flow=WRITE_FLOW, when=_writing)
async def written_question(ctx: Context) -> None:
    """The typed question: send it to the team."""
    assert isinstance(ctx.event, TextMessage)
    ctx.leave()
    await send_question(ctx, ctx.event.text, "direct")


@router.button(CancelWriting)
async def cancel(ctx: Context, _: CancelWriting) -> None:
    """Leave writing a question or an answer."""
    if (ctx.flow or "").startswith("tq_"):  # writing a question, an answer or a reply
        ctx.leave()
    ctx.say("question.cancelled", menu_button(ctx))


async def _answerable(ctx: Context, question_id: int) -> TeamQuestion | None:
    """The open question this staff user may answer, or None (having said why)."""
    question = await QuestionRepo(ctx.session).get(question_id) if question_id else None
    if question is None:
        ctx.say("question.gone", menu_button(ctx))
        return None
    if ctx.user.role != Role.ADMIN:
        scope = await team_scope(ctx, question.team_id or ALL, say=False)
        if scope is None or scope.team is None:
            ctx.say("followup.not_yours", menu_button(ctx))
            return None
    if question.answered_by is not None or question.status != "open":
        who = await UserRepo(ctx.session).get(question.answered_by or 0)
        name = display_name(who, ctx.content.messages) if who else ctx.t("question.someone")
        ctx.say("question.answered_already", menu_button(ctx), who=name)
        return None
    return question


@router.button(AnswerQuestion, roles=STAFF)
async def start_answer(ctx: Context, pressed: AnswerQuestion) -> None:
    """A member chose to answer a question: ask for the answer."""
    question = await _answerable(ctx, pressed.question)
    if question is None:
        return
    asker = await UserRepo(ctx.session).get(question.user_id)
    name = display_name(asker, ctx.content.messages) if asker else ""
    ctx.enter(ANSWER_FLOW, Answering(at=_now(ctx), question=question.id))
    ctx.say(
        "question.answer_prompt",
        ctx.button("question.cancel_button", CancelWriting()),
        name=name,
        text=question.text,
    )


@router.text(flow=ANSWER_FLOW, roles=STAFF, when=_answering)
async def typed_answer(ctx: Context) -> None:
    """The member's answer: deliver it to the citizen on their channel, mark it answered."""
    data = ctx.flow_data(ANSWER_FLOW)
    assert isinstance(ctx.event, TextMessage) and data is not None
    ctx.leave()
    question = await _answerable(ctx, data.question)
    if question is None:
        return
    text = ctx.event.text.strip()
    if not text:
        ctx.enter(ANSWER_FLOW, Answering(at=_now(ctx), question=question.id))
        ctx.say("question.answer_empty")
        return
    await QuestionRepo(ctx.session).answer(question, ctx.user, text, ctx.services.clock())
    team = await TeamRepo(ctx.session).get(question.team_id) if question.team_id else None
    team_name = team.name if team else ctx.t("question.admin_team")
    me = (ctx.user.display_name or "").strip() or team_name
    delivered = ctx.t(
        "question.delivered", team=team_name, question=question.text, answer=text, who=me
    )
    asker = await UserRepo(ctx.session).get(question.user_id)
    name = display_name(asker, ctx.content.messages) if asker else ""
    if asker is not None and outside_window(asker, ctx.services.clock()):
        ctx.say("question.answer_out_of_window", menu_button(ctx), name=name)
        return
    thread = await ThreadRepo(ctx.session).open(
        question.team_id, question.user_id, ctx.user.id, question.id, ctx.services.clock()
    )
    receipt = Receipt(ctx.user.id, "thread.refused", (("name", name),))
    reply = to_citizen(ctx.content.messages, thread.id, delivered)
    ctx.push(question.user_id, reply, if_failed=receipt)
    ctx.say("question.answer_sent", menu_button(ctx), name=name)


async def question_of(ctx: Context, question_id: int | None) -> TeamQuestion | None:
    """The question a thread started from (None: the member wrote first)."""
    return await QuestionRepo(ctx.session).get(question_id) if question_id else None


@router.button(TeamQueue, roles=STAFF)
async def queue(ctx: Context, pressed: TeamQueue) -> None:
    """Open questions of the team (``0``: the admin queue, admins only)."""
    if pressed.team == ALL and ctx.user.role == Role.ADMIN:
        team: Team | None = None
        scope = Scope(None)
    else:
        found = await team_scope(ctx, pressed.team)
        if found is None or found.team is None:
            return
        scope, team = found, found.team
    questions = await QuestionRepo(ctx.session).open(team.id if team else None, MAX_QUEUE)
    count = await QuestionRepo(ctx.session).open_count(team.id if team else None)
    title = team.name if team else ctx.t("question.admin_team")
    if not questions:
        ctx.say("question.queue_empty", home_button(ctx, scope))
        return
    ctx.say("question.queue_title", team=title, count=count)
    users = UserRepo(ctx.session)
    for question in questions:
        asker = await users.get(question.user_id)
        ctx.send(
            Reply.with_buttons(
                ctx.t(
                    "question.queue_item",
                    name=display_name(asker, ctx.content.messages) if asker else "",
                    when=question.created_at.astimezone(VIETNAM).strftime("%H:%M %d/%m"),
                    text=question.text,
                ),
                [ctx.button("question.answer_button", AnswerQuestion(question.id))],
            )
        )
    ctx.say("menu.title", home_button(ctx, scope))
