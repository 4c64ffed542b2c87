"""Team storage on SQLite and PostgreSQL: codes, memberships, invites, the question queue,
guidance records, anonymous counts and shared files."""

from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import func, select

from bot.app import build_app
from bot.channels.memory import RICH, MemoryChannel
from bot.config import Config
from storage.db import Database
from storage.models import (
    LessonAttempt,
    QuestionLog,
    SharedFile,
    SkillCompletion,
    TeamQuestion,
    User,
    utcnow,
)
from storage.repos.files import FileRepo
from storage.repos.lessons import LessonRepo
from storage.repos.teams import (
    CODE_ALPHABET,
    ProgressRepo,
    QuestionRepo,
    TeamRepo,
    clean_code,
)
from tests.conftest import consent
from tests.replies import texts


async def _user(db: Database, external_id: str, role: str = "citizen") -> int:
    async with db.transaction() as session:
        user = User(
            channel="web",
            external_id=external_id,
            role=role,
            consent_at=utcnow(),
            display_name=external_id,
        )
        session.add(user)
        await session.flush()
        return user.id


async def test_team_codes_memberships_and_invites(any_db: Database) -> None:
    async with any_db.transaction() as session:
        teams = TeamRepo(session)
        a = await teams.create("Tổ CNS thôn Đông", "Xã Tân Hòa", "Thôn Đông")
        b = await teams.create("Tổ CNS thôn Tây", "Xã Tân Hòa", "Thôn Tây", code="tay-01")
        assert len(a.code) == 6 and set(a.code) <= set(CODE_ALPHABET)
        assert b.code == "TAY01"
        assert (await teams.by_code(" tay 01 ")) is not None
        assert [t.village for t in await teams.in_commune("Xã Tân Hòa")] == [
            "Thôn Đông",
            "Thôn Tây",
        ]
        assert len(await teams.communes()) == 1
        a_id, b_id = a.id, b.id
    citizen = await _user(any_db, "citizen-1")
    member = await _user(any_db, "member-1")
    async with any_db.transaction() as session:
        teams = TeamRepo(session)
        await teams.join(citizen, a_id, "code")
        await teams.join(citizen, b_id, "choice")  # moving keeps one membership
        assert (await teams.team_of(citizen)).id == b_id  # type: ignore[union-attr]
        invite = await teams.invite(a_id, "lead", timedelta(days=7))
        user = await session.get(User, member)
        assert user is not None
        assert await teams.redeem(invite.code.lower(), user) is not None
        assert user.role == "lead"
        assert await teams.redeem(invite.code, user) is None  # one time only
        assert [u.id for u in await teams.staff(a_id)] == [member]
        assert [u.id for u in await teams.citizens(b_id)] == [citizen]
        assert await teams.citizens(a_id) == []
        assert (await teams.sizes())[a_id] == (0, 1)
        old = await teams.invite(
            a_id, "member", timedelta(days=1), now=utcnow() - timedelta(days=2)
        )
        assert await teams.usable_invite(old.code) is None  # expired
        assert await teams.remove_member(a_id, user)
        assert user.role == "citizen" and await teams.team_of(member) is None


async def test_question_queue_guidance_and_anonymous_counts(any_db: Database) -> None:
    citizen = await _user(any_db, "citizen-2")
    member = await _user(any_db, "member-2", role="member")
    async with any_db.transaction() as session:
        team = await TeamRepo(session).create("Tổ", "Xã", "Thôn")
        questions = QuestionRepo(session)
        asker = await session.get(User, citizen)
        answerer = await session.get(User, member)
        assert asker is not None and answerer is not None
        q, new = await questions.ask(asker, team.id, "làm sao đổi sim chính chủ", "fallback")
        again, new_again = await questions.ask(
            asker, team.id, "làm sao đổi sim chính chủ", "feedback"
        )
        assert new and not new_again and again.id == q.id
        admin_q, _ = await questions.ask(asker, None, "câu khác", "direct")
        assert [x.id for x in await questions.open(team.id)] == [q.id]
        assert [x.id for x in await questions.open(None)] == [admin_q.id]
        assert await questions.open_count(team.id) == 1
        assert await questions.answer(q, answerer, "Bạn mang căn cước ra cửa hàng nhà mạng.")
        assert not await questions.answer(q, answerer, "lần hai")
        assert q.answered_by == member and await questions.open_count(team.id) == 0
        progress = ProgressRepo(session)
        assert await progress.guide(citizen, "sk_vneid_level2", team.id, member)
        assert not await progress.guide(citizen, "sk_vneid_level2", team.id, member)
        await progress.add_anonymous(team.id, [("completion", "sk_x", 2), ("citizen", "", 1)])
        await progress.add_anonymous(team.id, [("completion", "sk_x", 1), ("question", "", 0)])
        assert await progress.anonymous(team.id) == {("completion", "sk_x"): 3, ("citizen", ""): 1}
        records = await progress.records(None)  # every citizen (this one has no team)
        assert [g.skill_id for g in records.guided] == ["sk_vneid_level2"]


async def test_shared_files_expire(any_db: Database) -> None:
    async with any_db.transaction() as session:
        files = FileRepo(session)
        shared = await files.put(b"a,b\n", "bao-cao.csv", "text/csv", timedelta(hours=1))
        assert len(shared.token) >= 32
        assert (await files.get(shared.token)) is not None
        assert await files.get(shared.token, now=utcnow() + timedelta(hours=2)) is None
        assert await files.get("nope") is None


def test_clean_code() -> None:
    assert clean_code(" ab-cd 12 ") == "ABCD12"
    assert clean_code("xin chào") is None
    assert clean_code("ab") is None


async def test_chat_reports_and_erasing_on_both_databases(any_db: Database, config: Config) -> None:
    """The follow-up queries and the erasing cascade, through the chat, on SQLite and PostgreSQL."""
    app = build_app(config, db=any_db)
    chat = MemoryChannel(app.core, name="memory", capabilities=RICH)
    app.channels[chat.name] = chat
    async with any_db.transaction() as session:
        team = await TeamRepo(session).create("Tổ CNS thôn Đông", "Xã Tân Hòa", "Thôn Đông")
        code = (await TeamRepo(session).invite(team.id, "member", timedelta(days=1))).code
    await consent(chat, "mem", name="Anh Nam")
    await chat.say("mem", code)
    await consent(chat, "cit", name="Bác Ba")
    await chat.say("cit", team.code)
    await chat.say("cit", "tối nay đội tuyển bóng đá đá mấy giờ")
    await chat.press("cit", "Gửi câu hỏi cho tổ")
    async with any_db.transaction() as session:
        citizen = (
            await session.execute(select(User).where(User.external_id == "cit"))
        ).scalar_one()
        lessons = LessonRepo(session)
        old = utcnow() - timedelta(days=30)
        await lessons.start(citizen.id, "sk_vneid_level2", "memory", now=old)
        passed = await lessons.start(citizen.id, "sk_qr_payment", "memory", quiz_only=True)
        await lessons.finish(passed, correct=4, total=4, passed=True)
    await chat.say("mem", "/team")
    replies = await chat.press("mem", "Ai cần giúp")
    assert "**Bác Ba**" in texts(replies)
    await chat.press("mem", "Công cụ của tổ")
    replies = await chat.press("mem", "Xuất bảng CSV")
    assert any(r.document for r in replies)
    await chat.say("cit", "xóa dữ liệu của tôi")
    await chat.press("cit", "Xóa hết dữ liệu")
    async with any_db.transaction() as session:
        for model in (QuestionLog, TeamQuestion, LessonAttempt, SkillCompletion, SharedFile):
            count = await session.scalar(select(func.count()).select_from(model))
            assert count == 0, model.__name__
        kept = await ProgressRepo(session).anonymous(team.id)
    assert kept[("completion", "sk_qr_payment")] == 1 and kept[("citizen", "")] == 1
    assert os.listdir(config.teams.file_dir) == []  # the CSV naming her, gone from disk too
    await chat.say("mem", "/team")
    replies = await chat.press("mem", "Tóm tắt")
    assert "Bác Ba" not in texts(replies) and "Đã xóa dữ liệu: 1 người" in texts(replies)
    await app.stop()


async def _counted_sizes(db: Database) -> dict[int, tuple[int, int]]:
    """``TeamRepo.sizes`` the old way: every membership joined with its user, counted."""
    from storage.models import TEAM_STAFF, TeamMembership

    async with db.transaction() as session:
        rows = await session.execute(
            select(TeamMembership.team_id, User.role).join(User, User.id == TeamMembership.user_id)
        )
        sizes: dict[int, tuple[int, int]] = {}
        for team_id, role in rows.all():
            citizens, staff = sizes.get(team_id, (0, 0))
            sizes[team_id] = (
                citizens + (role == "citizen"),
                staff + (role in TEAM_STAFF),
            )
        return sizes


async def test_team_sizes_follow_joins_moves_leaving_and_deletions(any_db: Database) -> None:
    from sqlalchemy import delete, update

    from storage.models import Team, TeamMembership

    async with any_db.transaction() as session:
        teams = TeamRepo(session)
        ids = [(await teams.create(f"Tổ {n}", "Xã", f"Thôn {n}")).id for n in "ABC"]
    people = [await _user(any_db, f"size-{n}") for n in range(8)]
    lead = await _user(any_db, "size-lead", role="lead")
    admin = await _user(any_db, "size-admin", role="admin")

    async def check() -> None:
        async with any_db.transaction() as session:
            assert await TeamRepo(session).sizes() == await _counted_sizes(any_db)

    async with any_db.transaction() as session:
        teams = TeamRepo(session)
        for n, user_id in enumerate(people):
            await teams.join(user_id, ids[n % 2], "code")
        await teams.join(lead, ids[0], "invite")
        await teams.join(admin, ids[1], "invite")
    await check()
    async with any_db.transaction() as session:
        assert (await TeamRepo(session).sizes())[ids[0]] == (4, 1)  # the lead is staff
        assert (await TeamRepo(session).sizes())[ids[1]] == (4, 0)  # an admin is neither
    async with any_db.transaction() as session:
        teams = TeamRepo(session)
        await teams.join(people[0], ids[2], "choice")  # a move
        await teams.leave(people[1])
        await teams.set_household(people[2], "Nhà bác Tư")  # not a move
        user = await session.get(User, lead)
        assert user is not None
        assert await teams.remove_member(ids[0], user)
        # Several rows in one statement, as a bulk change would do.
        await session.execute(
            update(TeamMembership)
            .where(TeamMembership.user_id.in_(people[4:6]))
            .values(team_id=ids[2])
        )
    await check()
    async with any_db.transaction() as session:
        await session.execute(delete(User).where(User.id == people[2]))  # cascades
    await check()
    async with any_db.transaction() as session:
        await session.execute(delete(Team).where(Team.id == ids[2]))  # cascades
    await check()
    async with any_db.transaction() as session:
        await session.execute(delete(TeamMembership))  # everyone leaves: no team listed
    async with any_db.transaction() as session:
        assert await TeamRepo(session).sizes() == {}
