"""Two-way follow-up: a citizen answers the member who answered them, and the thread goes on.

The team's answer (``handlers/team_questions.py``) and a member's message to a citizen
(``handlers/citizen_card.py``) reach the citizen with a reply button (``ThreadReply``). What the
citizen then writes (after pressing it, or simply typed while that message is the last one they
got and less than ``REPLY_WINDOW`` old) goes to the SAME member, not to the team's queue; the
member answers with ``ThreadAnswer``, and so on. A member who left the team no longer gets it:
the reply goes to the team's queue as a new question. Threads are rows
(``storage/repos/threads``), so they survive restarts and work across processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.context import Context, Receipt
from bot.core.events import TextMessage
from bot.core.flows import TYPING_LAPSE, Flow
from bot.core.payloads import Payload
from bot.core.replies import Reply
from bot.core.router import STAFF, Router
from bot.outreach import REPLY_WINDOW, quiet_hours, refusal, refusal_text, to_citizen
from bot.reports.build import display_name
from handlers.menu import menu_button
from handlers.payloads import TEAM_QUESTION_BUTTONS, CancelWriting, ThreadAnswer, ThreadReply
from handlers.scope import serves, team_by_id
from handlers.team_questions import note_line, question_of, send_question
from storage.models import FollowupThread, User
from storage.repos.threads import ThreadRepo
from storage.repos.users import UserRepo

router = Router("threads")


@dataclass
class Replying:
    """A citizen typing a reply in ``thread``, since ``at`` (ISO time)."""

    at: str
    thread: int


REPLY_FLOW = router.flow(
    Flow("tq_reply", Replying, keeps=TEAM_QUESTION_BUTTONS, lapse=TYPING_LAPSE)
)
AGAIN_FLOW = router.flow(
    Flow("tq_again", Replying, keeps=TEAM_QUESTION_BUTTONS, lapse=TYPING_LAPSE)
)


def _name(ctx: Context, user: User | None) -> str:
    return display_name(user, ctx.content.messages) if user is not None else ""


async def open_thread(ctx: Context, team_id: int, citizen_id: int) -> FollowupThread:
    """A thread this member starts with a citizen of their team."""
    return await ThreadRepo(ctx.session).open(
        team_id, citizen_id, ctx.user.id, None, ctx.services.clock()
    )


async def send_in_thread(
    ctx: Context, thread: FollowupThread, citizen: User, key: str, text: str
) -> None:
    """A member's message in a thread: stored, pushed to the citizen with "Trả lời tổ"; the
    member is told if it could not be delivered."""
    await ThreadRepo(ctx.session).add(thread, False, ctx.user.id, text, ctx.services.clock())
    team = await team_by_id(ctx, thread.team_id)
    team_name = team.name if team is not None else ctx.t("question.admin_team")
    who = (ctx.user.display_name or "").strip() or team_name
    body = ctx.t(key, who=who, team=team_name, text=text.strip())
    name = _name(ctx, citizen)
    receipt = Receipt(
        ctx.user.id, "thread.refused", (("name", name), ("quiet", quiet_hours(ctx.services).label))
    )
    ctx.push(citizen.id, to_citizen(ctx.content.messages, thread.id, body), if_failed=receipt)
    ctx.say("thread.answer_sent", menu_button(ctx), name=name)


# --- the citizen's side ----------------------------------------------------------------------


async def _citizen_thread(ctx: Context, thread_id: int) -> FollowupThread | None:
    thread = await ThreadRepo(ctx.session).get(thread_id)
    return thread if thread is not None and thread.citizen_id == ctx.user.id else None


def _offered_thread(ctx: Context) -> int | None:
    """The thread whose "Trả lời tổ" was among the buttons of the user's last message."""
    for offered in ctx.offered:
        pressed = Payload.parse(offered.payload)
        if isinstance(pressed, ThreadReply):
            return pressed.thread
    return None


async def _in_window(ctx: Context) -> bool:
    """Typed text continues a thread: its message is the last one the citizen got, and fresh."""
    thread_id = _offered_thread(ctx)
    thread = await _citizen_thread(ctx, thread_id) if thread_id else None
    return thread is not None and ctx.services.clock() - thread.updated_at <= REPLY_WINDOW


@router.button(ThreadReply)
async def reply_button(ctx: Context, pressed: ThreadReply) -> None:
    """ "Trả lời tổ": ask for the reply."""
    thread = await _citizen_thread(ctx, pressed.thread)
    if thread is None:
        ctx.say("thread.reply_gone", menu_button(ctx))
        return
    member = await UserRepo(ctx.session).get(thread.member_id or 0)
    who = (member.display_name or "").strip() if member else ""
    ctx.enter(REPLY_FLOW, Replying(at=ctx.services.clock().isoformat(), thread=thread.id))
    ctx.say("thread.reply_prompt", menu_button(ctx), who=who or ctx.t("thread.the_team"))


def _replying(ctx: Context) -> bool:
    return ctx.flow_data(REPLY_FLOW) is not None


@router.text(flow=REPLY_FLOW, when=_replying)
async def typed_reply(ctx: Context) -> None:
    """The reply typed after "Trả lời tổ"."""
    data = ctx.flow_data(REPLY_FLOW)
    assert isinstance(ctx.event, TextMessage) and data is not None
    ctx.leave()
    await _forward(ctx, data.thread, ctx.event.text)


@router.text(when=_in_window, rank=2)
async def reply_in_window(ctx: Context) -> None:
    """Text typed right after a member's message: it is the reply."""
    assert isinstance(ctx.event, TextMessage)
    await _forward(ctx, _offered_thread(ctx) or 0, ctx.event.text)


async def _forward(ctx: Context, thread_id: int, text: str) -> None:
    """The citizen's reply to the thread's member (the team's queue if they left the team)."""
    thread = await _citizen_thread(ctx, thread_id)
    text = text.strip()
    if thread is None or not text:
        ctx.say("thread.reply_gone" if thread is None else "question.empty", menu_button(ctx))
        return
    member = await UserRepo(ctx.session).get(thread.member_id or 0)
    if member is None or not await serves(ctx, member, thread.team_id):
        await send_question(ctx, text, "reply")
        return
    await ThreadRepo(ctx.session).add(thread, True, ctx.user.id, text, ctx.services.clock())
    question = await question_of(ctx, thread.question_id)
    about = question.text if question is not None else ctx.t("thread.about_message")
    body = ctx.t("thread.reply_new", name=_name(ctx, ctx.user), text=text, about=about)
    body += await note_line(ctx, ctx.user.id, thread.team_id)
    answer = ctx.button("thread.answer_button", ThreadAnswer(thread.id))
    ctx.push(member.id, Reply.with_buttons(body, [answer]))
    who = (member.display_name or "").strip() or ctx.t("thread.the_team")
    more = ctx.button("thread.more_button", ThreadReply(thread.id))
    ctx.say("thread.reply_sent", more, menu_button(ctx), who=who)


# --- the member's side -----------------------------------------------------------------------


async def _member_thread(ctx: Context, thread_id: int) -> FollowupThread | None:
    """The thread if it is this member's and they still serve its team (else said why)."""
    thread = await ThreadRepo(ctx.session).get(thread_id)
    if thread is None:
        ctx.say("question.gone", menu_button(ctx))
        return None
    if thread.member_id != ctx.user.id or not await serves(ctx, ctx.user, thread.team_id):
        ctx.say("thread.not_yours", menu_button(ctx))
        return None
    return thread


@router.button(ThreadAnswer, roles=STAFF)
async def answer_again(ctx: Context, pressed: ThreadAnswer) -> None:
    """ "Trả lời bác": ask for the answer to the citizen's reply."""
    thread = await _member_thread(ctx, pressed.thread)
    if thread is None:
        return
    said = [m for m in await ThreadRepo(ctx.session).messages(thread.id) if m.from_citizen]
    citizen = await UserRepo(ctx.session).get(thread.citizen_id)
    ctx.enter(AGAIN_FLOW, Replying(at=ctx.services.clock().isoformat(), thread=thread.id))
    cancel = ctx.button("question.cancel_button", CancelWriting())
    text = said[-1].text if said else ""
    ctx.say("thread.answer_prompt", cancel, name=_name(ctx, citizen), text=text)


def _again(ctx: Context) -> bool:
    return ctx.flow_data(AGAIN_FLOW) is not None


@router.text(flow=AGAIN_FLOW, roles=STAFF, when=_again)
async def typed_again(ctx: Context) -> None:
    """The member's answer: to the citizen, in the same thread."""
    data = ctx.flow_data(AGAIN_FLOW)
    assert isinstance(ctx.event, TextMessage) and data is not None
    ctx.leave()
    thread = await _member_thread(ctx, data.thread)
    citizen = await UserRepo(ctx.session).get(thread.citizen_id) if thread else None
    if thread is None or citizen is None:
        return
    if not ctx.event.text.strip():
        ctx.enter(AGAIN_FLOW, data)
        ctx.say("question.answer_empty")
        return
    reason = await refusal(ctx.session, ctx.services, citizen, proactive=False)
    if reason is not None:
        text = refusal_text(ctx.content.messages, ctx.services, reason, _name(ctx, citizen))
        ctx.send(Reply.with_buttons(text, [menu_button(ctx)]))
        return
    await send_in_thread(ctx, thread, citizen, "thread.again", ctx.event.text)
