"""The certificate ("giấy ghi nhận") for the five basic skills, and checking its code.

Issued once per citizen, the first time it is due: offered right after the quiz that completes
the five basic skills (``lesson_steps.FIVE_REACHED``), and available later from the progress
view or the ``certificate`` intent (content/intents). "Five basic skills" is
``Lessons.reached_five`` over the skills passed with the bot (the progress view's rule); skills
only guided in person do not count. The record keeps what is printed; the PNG is drawn again
from it each time and shared like report files (a download link with an unguessable token on
the web chat, a photo on Telegram and Zalo).

Checking a code (the ``checkcert`` intent, ``/checkcert CODE``): team members, leads and admins
see what the certificate says (the code is printed on it, so whoever has it has seen the paper);
anyone else learns only whether the code is valid and its date, never whose it is.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.content.lessons import FIVE_JOBS
from bot.core import files
from bot.core.context import Context
from bot.core.events import Command, TextMessage
from bot.core.flows import Flow
from bot.core.replies import Reply
from bot.core.router import Router
from bot.core.text import fold
from bot.reports.certificate import certificate_png, issued_date
from handlers.lesson_steps import FIVE_REACHED
from handlers.menu import menu_button
from handlers.payloads import CertCheck, CertGet, ProgressShow
from handlers.scope import own_team
from storage.models import STAFF, Certificate
from storage.repos.certificates import CertificateRepo, normal_code, shown
from storage.repos.lessons import LessonRepo

router = Router("certificates")


@dataclass
class Waiting:
    """Waiting for a verification code to check."""


FLOW = router.flow(Flow("checkcert", Waiting))
CHECK = "checkcert"


async def _skills(ctx: Context) -> list[tuple[int, str, str]] | None:
    """(job, skill id, title): the first skill passed in each of jobs 1-5, or None before the
    five basic skills are reached."""
    completions = await LessonRepo(ctx.session).completions(ctx.user.id)
    lessons = ctx.content.lessons
    if not lessons.reached_five(c.skill_id for c in completions):
        return None
    picked: dict[int, tuple[int, str, str]] = {}
    for completion in completions:  # oldest first
        skill = lessons.get(completion.skill_id)
        if skill is not None and skill.job in FIVE_JOBS and skill.job not in picked:
            picked[skill.job] = (skill.job, skill.id, skill.title)
    return [picked[job] for job in sorted(picked)]


async def issue(ctx: Context) -> tuple[Certificate | None, bool]:
    """The citizen's certificate, issued now if due and not yet issued (and whether it is new)."""
    repo = CertificateRepo(ctx.session)
    existing = await repo.of_user(ctx.user.id)
    if existing is not None:
        return existing, False
    skills = await _skills(ctx)
    if skills is None:
        return None, False
    team = await own_team(ctx)
    name = (ctx.user.display_name or "").strip() or ctx.t("cert.no_name")
    certificate = await repo.issue(
        ctx.user.id,
        name=name,
        team=(team.id, team.name, team.village, team.commune) if team is not None else None,
        skills=skills,
        now=ctx.services.clock(),
    )
    return certificate, True


async def offer(ctx: Context) -> None:
    """Right after the quiz that completes the five basic skills: issue and offer, once."""
    certificate, new = await issue(ctx)
    if certificate is not None and new:
        ctx.say("cert.offer", ctx.button("cert.button", CertGet()))


router.extend(FIVE_REACHED, offer)


@router.button(CertGet)
@router.command("certificate")
async def send_certificate(ctx: Context, _: CertGet | None = None) -> None:
    """The certificate as a picture (a download on the web chat), with its code in the text."""
    certificate, _new = await issue(ctx)
    if certificate is None:
        passed = {c.skill_id for c in await LessonRepo(ctx.session).completions(ctx.user.id)}
        reached = len(ctx.content.lessons.jobs_of(passed) & FIVE_JOBS)
        progress = ctx.button("lesson.progress_button", ProgressShow())
        ctx.say("cert.not_yet", progress, reached=reached)
        return
    config = ctx.services.config
    png = await asyncio.to_thread(certificate_png, config, ctx.content.messages, certificate)
    ref = await files.share(
        ctx.session, config, png, "giay-ghi-nhan.png", "image/png", user_id=ctx.user.id
    )
    date = issued_date(certificate)
    text = ctx.t("cert.sent", name=certificate.name, code=shown(certificate.code), date=date)
    if not ctx.caps.images:  # the picture may not show: what it says, in words
        text += "\n" + ctx.t("cert.text_only", name=certificate.name, skills=_titles(certificate))
    ctx.send(Reply(text=text, document=ref, key="cert.sent"))
    ctx.say("menu.title", menu_button(ctx))


def _titles(certificate: Certificate) -> str:
    return "; ".join(str(title) for _, _, title in certificate.skills)


@router.button(CertCheck)
@router.command(CHECK)
async def check(ctx: Context, _: CertCheck | None = None) -> None:
    """Check the code given with the command, or ask for one."""
    event = ctx.event
    if isinstance(event, Command) and event.arg.strip():
        await verify(ctx, event.arg)
        return
    ctx.enter(FLOW, Waiting())
    ctx.say("cert.check_prompt", menu_button(ctx))


@router.text(FLOW)
async def typed_code(ctx: Context) -> None:
    """The code typed after "kiểm tra giấy ghi nhận"."""
    assert isinstance(ctx.event, TextMessage)
    ctx.leave()
    await verify(ctx, ctx.event.text)


def _code_after_phrase(ctx: Context) -> str | None:
    """The code in "kiểm tra giấy ghi nhận ABCDE-FGHJK" typed in one message, or None."""
    event = ctx.event
    if not isinstance(event, TextMessage):
        return None
    words = event.text.split()
    for size in range(min(len(words) - 1, 6), 0, -1):  # phrases have at most 5 words
        if ctx.content.intents.by_phrase.get(fold(" ".join(words[:size]))) == CHECK:
            rest = " ".join(words[size:]).lstrip(":- ")
            return rest if normal_code(rest) is not None else None
    return None


# After a typed team code (teams, rank 0), a pasted message (scam check, rank 1) and a reply to
# a member (threads, rank 2).
@router.text(when=lambda ctx: _code_after_phrase(ctx) is not None, rank=3)
async def phrase_with_code(ctx: Context) -> None:
    """ "kiểm tra giấy ghi nhận" and the code in one message."""
    await verify(ctx, _code_after_phrase(ctx) or "")


async def verify(ctx: Context, typed: str) -> None:
    """Say whether a code is a certificate's; staff also see what it says."""
    again = ctx.button("cert.check_again", CertCheck())
    certificate = await CertificateRepo(ctx.session).by_code(typed)
    if certificate is None:
        ctx.say("cert.check_bad", again, menu_button(ctx), code=typed.strip()[:24])
        return
    code, date = shown(certificate.code), issued_date(certificate)
    if ctx.user.role not in STAFF:
        ctx.say("cert.check_ok_citizen", again, menu_button(ctx), code=code, date=date)
        return
    place = ", ".join(p for p in (certificate.village, certificate.commune) if p)
    ctx.say(
        "cert.check_ok",
        again,
        menu_button(ctx),
        code=code,
        name=certificate.name,
        team=certificate.team_name or ctx.t("cert.no_team"),
        place=place or "-",
        date=date,
        skills=_titles(certificate),
    )
