""" "Dữ liệu của tôi" and "Xóa dữ liệu của tôi" (Nghị định 13/2023/NĐ-CP).

Showing: everything the bot keeps about the person, in plain words. Deleting (after a
confirmation): the user row goes, and with it (``ON DELETE CASCADE``) their conversation state,
buttons, question log and feedback, lesson records, completions, questions to the team, team
membership (with the household label a member may have recorded), in-person guidance
records, the team's notes on them, their follow-up threads with members, their
certificate, and their reminders, review answers and "no reminders" choice; their queued web
chat messages are deleted explicitly (they are keyed by the web id, not the user). What stays is
anonymous: per-team counts (a citizen, each skill passed or guided, five basic skills reached,
questions sent) so that the team's totals do not go down, and nothing that names or points to
the person.
Report files of their team that might name them are dropped too.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete

from bot.core import files
from bot.core.context import Context
from bot.core.replies import Reply
from bot.core.router import Router
from handlers.menu import menu_button, show_menu
from handlers.payloads import PrivacyDelete, PrivacyErase, PrivacyKeep, PrivacyShow
from storage.models import Role, WebOutbox
from storage.models.teams import (
    COUNT_BASIC_FIVE,
    COUNT_CITIZEN,
    COUNT_COMPLETION,
    COUNT_GUIDED,
    COUNT_QUESTION,
)
from storage.repos.answers import AnswerRepo
from storage.repos.certificates import CertificateRepo, shown
from storage.repos.delivery import WebHistoryRepo
from storage.repos.files import FileRepo
from storage.repos.followup import NoteRepo
from storage.repos.lessons import LessonRepo
from storage.repos.nudges import NudgeRepo
from storage.repos.teams import ProgressRepo, QuestionRepo, TeamRepo
from storage.repos.threads import ThreadRepo

router = Router("privacy")

VIETNAM = timezone(timedelta(hours=7), "ICT")


def _date(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(VIETNAM).strftime("%d/%m/%Y")


def _titles(ctx: Context, skill_ids: list[str]) -> str:
    titles = []
    for skill_id in skill_ids:
        skill = ctx.content.lessons.get(skill_id)
        titles.append(skill.title if skill is not None else skill_id)
    return "; ".join(titles)


@router.button(PrivacyShow)
@router.command("mydata")
async def my_data(ctx: Context, _: PrivacyShow | None = None) -> None:
    """What the bot stores about this user."""
    user = ctx.user
    lines = [ctx.t("privacy.title")]
    name = (user.display_name or "").strip()
    lines.append(ctx.t("privacy.name", name=name) if name else ctx.t("privacy.no_name"))
    channel_key = f"privacy.channel_{user.channel}"
    channel = ctx.t(channel_key) if ctx.content.messages.has(channel_key) else user.channel
    lines.append(ctx.t("privacy.channel", channel=channel))
    lines.append(
        ctx.t(
            "privacy.since",
            first_seen=_date(user.first_seen),
            consent=_date(user.consent_at),
        )
    )
    teams = TeamRepo(ctx.session)
    team = await teams.team_of(user.id)
    if team is not None:
        lines.append(
            ctx.t("privacy.team", team=team.name, village=team.village, commune=team.commune)
        )
        membership = await teams.membership(user.id)
        if membership is not None and membership.household:
            lines.append(ctx.t("privacy.household", household=membership.household))
    else:
        lines.append(ctx.t("privacy.no_team"))
    if user.role != Role.CITIZEN:
        lines.append(ctx.t("privacy.role", role=ctx.t(f"privacy.role_{user.role}")))
    lines.append(ctx.t("privacy.questions", count=await _questions_asked(ctx)))
    sent = await QuestionRepo(ctx.session).of_user(user.id)
    if sent:
        answered = sum(1 for q in sent if q.answered_at is not None)
        lines.append(ctx.t("privacy.team_questions", count=len(sent), answered=answered))
    statuses = await LessonRepo(ctx.session).statuses(user.id)
    passed = [s for s, st in statuses.items() if st.passed]
    learning = [s for s, st in statuses.items() if st.in_progress and not st.passed]
    lines.append(
        ctx.t("privacy.skills", skills=_titles(ctx, passed))
        if passed
        else ctx.t("privacy.no_skills")
    )
    if learning:
        lines.append(ctx.t("privacy.learning", skills=_titles(ctx, learning)))
    guided = [g.skill_id for g in await ProgressRepo(ctx.session).guided([user.id])]
    if guided:
        lines.append(ctx.t("privacy.guided", skills=_titles(ctx, guided)))
    exchanged = await ThreadRepo(ctx.session).count_of(user.id)
    if exchanged:
        lines.append(ctx.t("privacy.threads", count=exchanged))
    for note in await NoteRepo(ctx.session).about(user.id):
        author = await TeamRepo(ctx.session).get(note.team_id)
        name = author.name if author is not None else ""
        lines.append(ctx.t("privacy.note", team=name, date=_date(note.written_at)))
    certificate = await CertificateRepo(ctx.session).of_user(user.id)
    if certificate is not None:
        code, date = shown(certificate.code), _date(certificate.issued_at)
        lines.append(ctx.t("privacy.certificate", code=code, date=date))
    nudges = NudgeRepo(ctx.session)
    received = sum(1 for n in await nudges.of_user(user.id) if n.sent_at is not None)
    if received:
        lines.append(ctx.t("privacy.nudges", count=received))
    if await nudges.is_off(user.id):
        lines.append(ctx.t("privacy.nudges_off"))
    lines.append("")
    lines.append(ctx.t("privacy.footer"))
    ctx.send(
        Reply.with_buttons(
            "\n".join(lines),
            [ctx.button("privacy.delete_button", PrivacyDelete()), menu_button(ctx)],
        )
    )


async def _questions_asked(ctx: Context) -> int:
    """How many questions the user asked the bot (the answers feature's log)."""
    return await AnswerRepo(ctx.session).count_for_user(ctx.user.id)


@router.button(PrivacyDelete)
@router.command("deletedata")
async def confirm_delete(ctx: Context, _: PrivacyDelete | None = None) -> None:
    """Ask to confirm before deleting everything."""
    ctx.say(
        "privacy.confirm",
        ctx.button("privacy.confirm_yes", PrivacyErase()),
        ctx.button("privacy.confirm_no", PrivacyKeep()),
    )


@router.button(PrivacyKeep)
async def keep(ctx: Context, _: PrivacyKeep) -> None:
    """Nothing deleted."""
    show_menu(ctx, "privacy.kept")


@router.button(PrivacyErase)
async def erase(ctx: Context, _: PrivacyErase) -> None:
    """Delete the user's personal data, keeping anonymous counts for their team's totals."""
    user = ctx.user
    session = ctx.session
    team = await TeamRepo(session).team_of(user.id)
    team_id = team.id if team is not None else None
    if user.role == Role.CITIZEN:
        completions = await LessonRepo(session).completions(user.id)
        progress = ProgressRepo(session)
        guided = await progress.guided([user.id])
        skills = {c.skill_id for c in completions} | {g.skill_id for g in guided}
        questions = await QuestionRepo(session).of_user(user.id)
        counts = [(COUNT_CITIZEN, "", 1), (COUNT_QUESTION, "", len(questions))]
        counts += [(COUNT_COMPLETION, c.skill_id, 1) for c in completions]
        counts += [(COUNT_GUIDED, g.skill_id, 1) for g in guided]
        counts.append((COUNT_BASIC_FIVE, "", 1 if ctx.content.lessons.reached_five(skills) else 0))
        await progress.add_anonymous(team_id, counts)
        await FileRepo(session, files.folder(ctx.services.config)).forget_team(team_id)
    if user.channel == "web":
        await session.execute(delete(WebOutbox).where(WebOutbox.external_id == user.external_id))
        await WebHistoryRepo(session).forget(user.external_id)
    await NoteRepo(session).forget(user.id)  # also cascades with the user; explicit by law
    await session.delete(ctx.state)
    await session.delete(user)
    await session.flush()
    ctx.say("privacy.deleted")
