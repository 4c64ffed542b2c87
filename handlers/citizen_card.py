"""One citizen of the team, as its members see them from "Ai cần giúp": the team's note, and
a short message to the citizen within the channel's rules (``bot/outreach.py``).

A note is the team's: only its members, leads and the admins read or write it, and only
while the citizen belongs to that team (``handlers.scope.team_scope`` checks the team of the
payload, ``team_tools.citizen_of`` that the citizen is in it). Every route is ``roles=STAFF``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.context import Context
from bot.core.events import TextMessage
from bot.core.flows import TYPING_LAPSE, Flow
from bot.core.replies import Reply
from bot.core.router import STAFF, Router
from bot.outreach import MAX_MESSAGE, refusal, refusal_text
from bot.reports.build import VIETNAM, display_name
from handlers.payloads import CARD_BUTTONS, CitizenCard, MessageCitizen, NoteDelete, NoteEdit
from handlers.scope import Scope, team_scope
from handlers.team_tools import citizen_of, home_button
from handlers.threads import open_thread, send_in_thread
from storage.models import User
from storage.repos.followup import NoteRepo
from storage.repos.users import UserRepo

router = Router("citizen_card")


@dataclass
class NoteWriting:
    """A member typing the team's note on ``citizen``."""

    team: int
    citizen: int


@dataclass
class Messaging:
    """A member typing a message to ``citizen``, since ``at`` (ISO time)."""

    team: int
    citizen: int
    at: str


NOTE_FLOW = router.flow(Flow("note_write", NoteWriting, keeps=CARD_BUTTONS))
MESSAGE_FLOW = router.flow(Flow("fu_message", Messaging, keeps=CARD_BUTTONS, lapse=TYPING_LAPSE))


async def card_target(ctx: Context, team: int, citizen: int) -> tuple[Scope, User] | None:
    """The scope and the citizen of a card payload, if this member may see them."""
    scope = await team_scope(ctx, team)
    if scope is None or scope.team is None:
        return None
    user = await citizen_of(ctx, scope, citizen)
    if user is None:
        ctx.say("notes.gone", home_button(ctx, scope))
        return None
    return scope, user


async def show_card(ctx: Context, scope: Scope, citizen: User) -> None:
    """The citizen's name, the team's note and what the member can do."""
    assert scope.team is not None
    note = await NoteRepo(ctx.session).get(citizen.id, scope.team.id)
    if note is None:
        line = ctx.t("notes.card_no_note")
    else:
        writer = await UserRepo(ctx.session).get(note.written_by or 0)
        who = display_name(writer, ctx.content.messages) if writer else scope.team.name
        date = note.written_at.astimezone(VIETNAM).strftime("%d/%m/%Y")
        line = ctx.t("notes.card_note", note=note.text, who=who, date=date)
    t, c = scope.team.id, citizen.id
    buttons = [
        ctx.button("notes.edit_button", NoteEdit(t, c)),
        ctx.button("thread.message_button", MessageCitizen(t, c)),
    ]
    if note is not None:
        buttons.insert(1, ctx.button("notes.delete_button", NoteDelete(t, c)))
    buttons.append(home_button(ctx, scope))
    name = display_name(citizen, ctx.content.messages)
    ctx.send(Reply.with_buttons(ctx.t("notes.card", name=name, note=line), buttons))


@router.button(CitizenCard, roles=STAFF)
async def card(ctx: Context, pressed: CitizenCard) -> None:
    """One citizen of the team: the note and the actions."""
    found = await card_target(ctx, pressed.team, pressed.citizen)
    if found is not None:
        await show_card(ctx, *found)


@router.button(NoteEdit, roles=STAFF)
async def edit_note(ctx: Context, pressed: NoteEdit) -> None:
    """Ask for the note (with the reminder of what not to write)."""
    found = await card_target(ctx, pressed.team, pressed.citizen)
    if found is None:
        return
    scope, citizen = found
    ctx.enter(NOTE_FLOW, NoteWriting(team=scope.team_id, citizen=citizen.id))
    name = display_name(citizen, ctx.content.messages)
    back = ctx.button("question.cancel_button", CitizenCard(pressed.team, pressed.citizen))
    ctx.say("notes.ask", back, name=name)


def _writing(ctx: Context) -> bool:
    return ctx.flow_data(NOTE_FLOW) is not None


@router.text(flow=NOTE_FLOW, roles=STAFF, when=_writing)
async def typed_note(ctx: Context) -> None:
    """The typed note: saved, or asked again when refused."""
    data = ctx.flow_data(NOTE_FLOW)
    assert isinstance(ctx.event, TextMessage) and data is not None
    ctx.leave()
    found = await card_target(ctx, data.team, data.citizen)
    if found is None:
        return
    scope, citizen = found
    assert scope.team is not None
    now = ctx.services.clock()
    name = display_name(citizen, ctx.content.messages)
    repo = NoteRepo(ctx.session)
    if not ctx.event.text.strip() or not await repo.write(
        citizen.id, scope.team.id, ctx.event.text, ctx.user.id, now
    ):
        ctx.enter(NOTE_FLOW, data)
        back = ctx.button("question.cancel_button", CitizenCard(data.team, data.citizen))
        ctx.say("notes.refused", back)
        return
    ctx.say("notes.saved", name=name)
    await show_card(ctx, scope, citizen)


@router.button(NoteDelete, roles=STAFF)
async def delete_note(ctx: Context, pressed: NoteDelete) -> None:
    """Delete the team's note on the citizen."""
    found = await card_target(ctx, pressed.team, pressed.citizen)
    if found is None:
        return
    scope, citizen = found
    assert scope.team is not None
    await NoteRepo(ctx.session).write(citizen.id, scope.team.id, "", ctx.user.id)
    ctx.say("notes.deleted", name=display_name(citizen, ctx.content.messages))
    await show_card(ctx, scope, citizen)


# --- "Nhắn cho bác" ----------------------------------------------------------------------------


async def _refused(ctx: Context, scope: Scope, citizen: User) -> bool:
    """Say why the member may not write to the citizen now, if they may not."""
    reason = await refusal(ctx.session, ctx.services, citizen, proactive=True)
    if reason is None:
        return False
    name = display_name(citizen, ctx.content.messages)
    text = refusal_text(ctx.content.messages, ctx.services, reason, name)
    assert scope.team is not None
    back = ctx.button("followup.home_button", CitizenCard(scope.team.id, citizen.id))
    ctx.send(Reply.with_buttons(text, [back]))
    return True


@router.button(MessageCitizen, roles=STAFF)
async def message_citizen(ctx: Context, pressed: MessageCitizen) -> None:
    """Ask for the message, unless the channel's rules forbid one now (said clearly)."""
    found = await card_target(ctx, pressed.team, pressed.citizen)
    if found is None or await _refused(ctx, *found):
        return
    scope, citizen = found
    now = ctx.services.clock().isoformat()
    ctx.enter(MESSAGE_FLOW, Messaging(team=scope.team_id, citizen=citizen.id, at=now))
    back = ctx.button("question.cancel_button", CitizenCard(scope.team_id, citizen.id))
    ctx.say("thread.message_prompt", back, name=display_name(citizen, ctx.content.messages))


def _messaging(ctx: Context) -> bool:
    return ctx.flow_data(MESSAGE_FLOW) is not None


@router.text(flow=MESSAGE_FLOW, roles=STAFF, when=_messaging)
async def typed_message(ctx: Context) -> None:
    """The member's message: opens a thread and goes to the citizen with "Trả lời tổ"."""
    data = ctx.flow_data(MESSAGE_FLOW)
    assert isinstance(ctx.event, TextMessage) and data is not None
    ctx.leave()
    found = await card_target(ctx, data.team, data.citizen)
    if found is None or await _refused(ctx, *found):
        return
    scope, citizen = found
    text = ctx.event.text.strip()
    if not text or len(text) > MAX_MESSAGE:
        ctx.enter(MESSAGE_FLOW, data)
        ctx.say("thread.empty" if not text else "thread.too_long")
        return
    thread = await open_thread(ctx, scope.team_id, citizen.id)
    await send_in_thread(ctx, thread, citizen, "thread.from_member", text)
