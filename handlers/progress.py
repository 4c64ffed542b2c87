""" "Tiến độ của tôi": each job with skills passed (others left out), and the five basic skills."""

from __future__ import annotations

from bot.content.lessons import FIVE_JOBS
from bot.core.context import Context
from bot.core.replies import Reply
from bot.core.router import Router
from handlers.menu import menu_button
from handlers.nudges import memory, memory_text, relearn_button, toggle_button
from handlers.payloads import CertGet, LessonList, ProgressShow
from storage.repos.lessons import LessonRepo

router = Router("progress")


@router.button(ProgressShow)
@router.command("progress")
async def show_progress(ctx: Context, _: ProgressShow | None = None) -> None:
    """The citizen's skills passed, by job, with congratulations once all five jobs have one."""
    repo = LessonRepo(ctx.session)
    statuses = await repo.statuses(ctx.user.id)
    lessons = ctx.content.lessons
    passed = {skill_id for skill_id, status in statuses.items() if status.passed}
    blocks: list[str] = []
    for group in ctx.content.groups:
        skills = lessons.by_group(group.id)
        if not skills:
            continue
        done = [s for s in skills if s.id in passed]
        if not done:
            continue  # no line of zeros: only what the citizen has learnt
        values = {"job": group.job, "title": group.title, "passed": len(done), "total": len(skills)}
        lines = [ctx.t("progress.job" if group.job else "progress.basics", **values)]
        lines += [ctx.t("progress.skill", title=s.title) for s in done]
        blocks.append("\n".join(lines))
    going = [
        s.title
        for s in lessons.skills
        if (status := statuses.get(s.id)) is not None and status.in_progress
    ]
    if going:
        blocks.append(ctx.t("progress.going", titles=", ".join(going)))
    remembered = await memory(
        ctx, {c.skill_id: c.last_passed_at for c in await repo.completions(ctx.user.id)}
    )
    if memo := memory_text(ctx, remembered):
        blocks.append(memo)
    reached = lessons.jobs_of(passed) & FIVE_JOBS
    if reached >= FIVE_JOBS:
        blocks.append(ctx.t("progress.done"))
    elif passed & {s.id for s in lessons.skills}:
        blocks.append(ctx.t("progress.not_yet", reached=len(reached)))
    else:
        blocks.append(ctx.t("progress.empty"))
    text = "\n\n".join([ctx.t("progress.title"), *blocks])
    buttons = [ctx.button("progress.lessons_button", LessonList()), menu_button(ctx)]
    if (relearn := relearn_button(ctx, remembered)) is not None:
        buttons.insert(0, relearn)
    if remembered.firm or remembered.review or going:  # reminders or reviews may come
        buttons.insert(-1, await toggle_button(ctx))
    if reached >= FIVE_JOBS:  # the certificate (handlers/certificates.py)
        buttons.insert(0, ctx.button("cert.button", CertGet()))
    ctx.send(Reply.with_buttons(text, buttons))
