"""Declared flows: stored data is checked against the flow's dataclass, and what outlives a flow
(a join code sent before consent) is kept outside flow data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.app import App
from bot.channels.memory import MemoryChannel
from bot.core.flows import Flow
from storage.models import ConversationState, TeamQuestion, User
from tests.conftest import consent
from tests.replies import keys
from tests.test_teams import make_member, make_team, team_id_of


@dataclass
class Sample:
    step: str
    team: int | None = None
    only_missing: bool = False


SAMPLE = Flow("sample", Sample)


def test_stored_data_must_fit_the_dataclass() -> None:
    assert SAMPLE.load({"step": "kind", "team": 3}) == Sample("kind", 3)
    assert SAMPLE.load({"step": "kind", "extra": 1}) == Sample("kind")  # old keys are ignored
    assert SAMPLE.load({}) is None  # a required field is missing
    assert SAMPLE.load({"step": 3}) is None
    assert SAMPLE.load({"step": "kind", "team": "3"}) is None
    assert SAMPLE.load({"step": "kind", "team": True}) is None  # a bool is not an id
    assert SAMPLE.load({"step": "kind", "only_missing": 1}) is None
    assert SAMPLE.dump(Sample("kind", 3)) == {"step": "kind", "team": 3, "only_missing": False}


async def _state(app: App, external_id: str) -> ConversationState:
    async with app.db.transaction() as session:
        user = (
            await session.execute(select(User).where(User.external_id == external_id))
        ).scalar_one()
        state = await session.get(ConversationState, user.id)
        assert state is not None
        return state


async def test_a_join_code_before_consent_is_kept_outside_flow_data(
    chat: MemoryChannel, app: App
) -> None:
    team = await make_team(app)
    replies = await chat.say("c1", f"/start {team.code}", display_name="Bác Ba")
    assert keys(replies) == ["welcome.new", "welcome.privacy"]
    state = await _state(app, "c1")
    assert state.flow is None and state.data == {}
    assert state.attrs == {"join_code": team.code}
    await chat.press("c1", "Đồng ý")
    assert await team_id_of(app, "c1") == team.id
    assert (await _state(app, "c1")).attrs == {}


async def test_a_join_code_kept_in_flow_data_before_the_upgrade_is_still_used(
    chat: MemoryChannel, app: App
) -> None:
    team = await make_team(app)
    await chat.say("c1", "xin chào", display_name="Bác Ba")
    async with app.db.transaction() as session:
        user = (await session.execute(select(User).where(User.external_id == "c1"))).scalar_one()
        state = await session.get(ConversationState, user.id)
        assert state is not None
        state.data = {"join_code": team.code}  # how it was stored before migration 0008
    await chat.press("c1", "Đồng ý")
    assert await team_id_of(app, "c1") == team.id


@dataclass
class Typing:
    at: str


TYPING = Flow("typing", Typing, lapse=timedelta(minutes=60))


def test_a_flow_with_a_lapse_is_over_once_it_has_passed() -> None:
    start = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    data = Typing(start.isoformat())
    assert not TYPING.lapsed(data, start + timedelta(minutes=60))
    assert TYPING.lapsed(data, start + timedelta(minutes=61))
    assert TYPING.lapsed(Typing("not a time"), start)
    assert not SAMPLE.lapsed(Sample("kind"), start)  # no lapse declared: never over


async def test_a_question_typed_after_the_lapse_is_not_sent_to_the_team(
    chat: MemoryChannel, app: App
) -> None:
    team = await make_team(app)
    await make_member(app, chat, "mem", team)
    await consent(chat, "cit", name="Bác Ba")
    await chat.say("cit", team.code)
    start = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    app.services.clock = lambda: start
    await chat.say("cit", "/askteam")
    app.services.clock = lambda: start + timedelta(minutes=61)
    await chat.say("cit", "điện thoại hết pin")  # an hour later: a question for the bot
    assert (await _state(app, "cit")).flow is None
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(TeamQuestion)) == 0
    pushed = len(chat.sent.get("mem", []))
    app.services.clock = lambda: start + timedelta(minutes=62)
    await chat.say("cit", "/askteam")
    await chat.say("cit", "Bác cần người tới nhà chỉ giúp")  # within the lapse: it is sent
    async with app.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(TeamQuestion)) == 1
    assert len(chat.sent["mem"]) == pushed + 1
