"""The issue's scenario over real HTTP: a citizen on the web chat takes sk_spot_phishing, fails
the quiz once, retries and passes, sees it ✅ in Bài học and in Tiến độ, and the database holds
one completion with the best score and every answer given."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import App
from storage.models import LessonAttempt, LessonStep, QuizAnswer, SkillCompletion, User

SKILL = "sk_spot_phishing"
TITLE = "Nhận diện tin nhắn và đường link giả"

Replies = list[dict[str, Any]]


class WebCitizen:
    """A scripted citizen talking to /api/chat, pressing buttons by their labels."""

    def __init__(self, client: TestClient) -> None:  # type: ignore[type-arg]
        self.client = client
        self.last: Replies = []
        self.token = ""  # issued by the server on the first turn

    @property
    def external_id(self) -> str:
        return self.token.partition(".")[0]

    async def post(self, body: dict[str, Any]) -> Replies:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.client.post("/api/chat", json=body, headers=headers)
        assert response.status == 200, await response.text()
        data = await response.json()
        self.token = self.token or data["token"]
        self.last = data["replies"]
        return self.last

    async def say(self, text: str) -> Replies:
        return await self.post({"text": text})

    async def press(self, label: str) -> Replies:
        for reply in reversed(self.last):
            for button in reply["buttons"]:
                if button["label"] == label or label in button["label"]:
                    assert ":" not in button["payload"]  # the page sees tokens, never payloads
                    return await self.post({"button": button["payload"]})
        raise AssertionError(f"no button {label!r} in {self.labels()}")

    def labels(self) -> list[str]:
        return [b["label"] for r in self.last for b in r["buttons"]]

    def text(self) -> str:
        return "\n".join(r["text"] for r in self.last)

    def question(self) -> dict[str, Any] | None:
        return next((r for r in self.last if r["choices"]), None)


@pytest.fixture
async def citizen(app: App) -> AsyncIterator[WebCitizen]:
    async with TestClient(TestServer(app.web_app(), host="127.0.0.1")) as client:
        yield WebCitizen(client)


async def test_take_fail_retry_pass_and_see_progress(app: App, citizen: WebCitizen) -> None:
    skill = app.store.current.lessons.get(SKILL)
    assert skill is not None

    await citizen.say("xin chào")
    await citizen.press("Đồng ý")
    await citizen.press("Bỏ qua")  # no name
    await citizen.press("Bài học")
    assert f"○ {TITLE}" in citizen.labels()
    await citizen.press(TITLE)
    assert skill.summary in citizen.text()

    # Every step, one at a time, with "Tiếp".
    for number, step in enumerate(skill.steps, start=1):
        assert f"Phần {number}/{len(skill.steps)}" in citizen.text()
        assert step.text.splitlines()[-1] in citizen.text()
        assert citizen.question() is None
        await citizen.press("Tiếp")

    # First try: the first (critical) question wrong, the others right.
    given: list[tuple[str, int]] = []
    for index, question in enumerate(skill.quiz):
        asked = citizen.question()
        assert asked is not None and question.text in asked["text"]
        assert [b["label"] for b in asked["buttons"]] == list(question.choices)
        choice = question.correct % len(question.choices) + 1 if index == 0 else question.correct
        given.append((question.id, choice))
        await citizen.press(question.choices[choice - 1])
        if index == 0:
            assert "Chưa đúng" in citizen.text()
            assert question.explain.splitlines()[0] in citizen.text()
            assert question.answer in citizen.text()
        else:
            assert "Đúng rồi" in citizen.text()
    assert f"đúng {len(skill.quiz) - 1}/{len(skill.quiz)}" in citizen.text()
    assert "Làm lại bài kiểm tra" in citizen.labels()

    # Retry: the quiz again, all right.
    await citizen.press("Làm lại bài kiểm tra")
    for question in skill.quiz:
        asked = citizen.question()
        assert asked is not None and question.text in asked["text"]
        given.append((question.id, question.correct))
        await citizen.press(question.answer)
    assert "Chúc mừng" in citizen.text()
    assert f"{len(skill.quiz)}/{len(skill.quiz)}" in citizen.text()

    # ✅ in Bài học and in Tiến độ.
    await citizen.press("Bài học khác")
    assert f"✅ {TITLE}" in citizen.labels()
    await citizen.press("Menu")
    await citizen.press("Tiến độ của tôi")
    assert f"✅ {TITLE}" in citizen.text()
    assert "Tránh lừa đảo" in citizen.text()

    async with app.db.transaction() as session:
        who = User.external_id == citizen.external_id
        user = (await session.execute(select(User).where(who))).scalar_one()
        mine = SkillCompletion.user_id == user.id
        completions = (await session.execute(select(SkillCompletion).where(mine))).scalars().all()
        attempts = (
            (
                await session.execute(
                    select(LessonAttempt)
                    .where(LessonAttempt.user_id == user.id)
                    .order_by(LessonAttempt.id)
                )
            )
            .scalars()
            .all()
        )
        answers = (
            (await session.execute(select(QuizAnswer).order_by(QuizAnswer.id))).scalars().all()
        )
        steps = (await session.execute(select(LessonStep).order_by(LessonStep.id))).scalars().all()

    assert len(completions) == 1
    completion = completions[0]
    assert completion.skill_id == SKILL and completion.best_score == 1.0
    assert completion.channel == "web" and completion.passes == 1
    assert completion.best_attempt_id == attempts[1].id

    assert [(a.status, a.passed, a.number) for a in attempts] == [
        ("failed", False, 1),
        ("passed", True, 2),
    ]
    assert attempts[0].correct == len(skill.quiz) - 1 and attempts[0].total == len(skill.quiz)
    assert all(a.started_at and a.finished_at and a.channel == "web" for a in attempts)
    assert attempts[0].finished_at <= attempts[1].started_at  # type: ignore[operator]

    assert [(a.question_id, a.choice) for a in answers] == given
    assert [a.correct for a in answers] == [False] + [True] * (2 * len(skill.quiz) - 1)
    assert {a.attempt_id for a in answers} == {attempts[0].id, attempts[1].id}
    assert all(a.channel == "web" and a.skill_id == SKILL and a.answered_at for a in answers)

    assert [s.step_id for s in steps] == [s.id for s in skill.steps]
    assert [s.position for s in steps] == list(range(1, len(skill.steps) + 1))
    assert all(s.attempt_id == attempts[0].id for s in steps)
