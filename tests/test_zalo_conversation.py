"""Whole conversations on Zalo, through the fake Zalo Bot API server, with the real features:
the knowledge matcher answers, related entries and lessons are chosen by number, quiz answers are
given by letter. Everything a citizen types here is what they would type on a phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import App
from bot.config import Config
from bot.core.replies import LETTERS
from storage.db import Database
from tests.fake_zalo import Citizen, FakeZalo, start_bot

CONTENT = Path(__file__).resolve().parent.parent / "content"


def _items(folder: str, key: str) -> dict[str, dict[str, Any]]:
    """Content items by id, read straight from the YAML files (what admins wrote)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((CONTENT / folder).glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get(key) or []:
            found[item["id"]] = item
    return found


ENTRIES = _items("knowledge", "entries")
SKILLS = _items("lessons", "skills")


def first_line(markup: str) -> str:
    """The first line of a text as Zalo shows it (no ``**``)."""
    return markup.strip().splitlines()[0].replace("**", "").strip()


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    server = await FakeZalo(max_wait=0.2).start()
    yield server
    await server.stop()


@pytest.fixture(params=["polling", "webhook"])
async def bot(
    request: pytest.FixtureRequest, config: Config, db: Database, fake: FakeZalo
) -> AsyncIterator[App]:
    app = await start_bot(config, db, fake, webhook=request.param == "webhook")
    yield app
    await app.stop()


async def consent(citizen: Citizen) -> None:
    """Start, and agree by typing the number of "Đồng ý"."""
    answer = await citizen.say("/start")
    assert "Trả lời số 1, 2 hoặc 3" in answer
    await citizen.say(citizen.key("Đồng ý"))
    assert "Bạn muốn làm gì" in citizen.last


async def read_to_quiz(citizen: Citizen) -> None:
    """Press "Tiếp" by its number until the first quiz question shows up."""
    for _ in range(12):
        if any(key == "A" for key, _label in citizen.choices()):
            return
        await citizen.say(citizen.key("Tiếp"))
    raise AssertionError(f"no quiz question after the steps:\n{citizen.last}")


async def answer_quiz(citizen: Citizen, skill: dict[str, Any]) -> None:
    """Answer every question with the right letter, checking each shows its own choices."""
    for question in skill["quiz"]:
        labels = [label for key, label in citizen.choices() if not key.isdigit()]
        assert labels == [str(c) for c in question["choices"]], citizen.last
        await citizen.say(LETTERS[question["correct"] - 1])
        assert "Đúng rồi" in citizen.last


async def test_full_conversation(bot: App, fake: FakeZalo) -> None:
    """start → consent → question → answer → a related entry by number → a lesson step → a quiz
    answer by letter."""
    citizen = Citizen(bot, fake)
    await consent(citizen)

    entry = ENTRIES["scam_fake_police_call"]
    answer = await citizen.say("co ng xung cong an goi bao cap nhat dinh danh that k")
    assert first_line(entry["answer"]) in answer

    related = ENTRIES["scam_fake_app_link"]
    assert related["id"] in entry["related"]
    answer = await citizen.say(citizen.key(related["title"]))
    assert first_line(related["answer"]) in answer

    skill = SKILLS[related["skill"]]
    answer = await citizen.say(citizen.key(skill["title"]))
    assert skill["title"] in answer
    assert first_line(skill["steps"][0]["text"]) in answer
    assert "1/" in answer  # "Phần 1/5"

    await read_to_quiz(citizen)
    question = skill["quiz"][0]
    assert str(question["choices"][0]) in citizen.last
    wrong = next(i for i in range(len(question["choices"])) if i + 1 != question["correct"])
    await citizen.say(LETTERS[wrong].lower())  # a small letter works too
    assert "Chưa đúng" in citizen.last
    assert str(question["choices"][question["correct"] - 1]) in citizen.last


async def test_whole_lesson_and_quiz_by_numbers_and_letters_only(bot: App, fake: FakeZalo) -> None:
    """A citizen completes a lesson and its quiz typing nothing but numbers and letters."""
    citizen = Citizen(bot, fake, chat_id="numbers-only")
    typed: list[str] = []

    async def press(key: str) -> str:
        typed.append(key)
        return await citizen.say(key)

    await press("1")  # any first message shows the welcome; "1" is then "Đồng ý"
    assert "Trả lời số 1, 2 hoặc 3" in citizen.last
    await press(citizen.key("Đồng ý"))
    await press(citizen.key("Bài học"))
    skill = SKILLS["sk_spot_phishing"]
    await press(citizen.key(skill["title"]))
    for step in skill["steps"]:
        assert first_line(step["text"]) in citizen.last
        await press(citizen.key("Tiếp"))
    for question in skill["quiz"]:
        assert any(key == "A" for key, _label in citizen.choices()), citizen.last
        await press(LETTERS[question["correct"] - 1])
    assert "Chúc mừng" in citizen.last
    assert skill["title"] in citizen.last

    await press(citizen.key("Tiến độ"))
    assert f"✅ {skill['title']}" in citizen.last
    await press("0")
    await press(citizen.key("Bài học"))
    assert f"✅ {skill['title']}" in citizen.last
    assert all(key.isdigit() or key in LETTERS for key in typed), typed


async def test_lesson_with_menu_and_back(bot: App, fake: FakeZalo) -> None:
    """ "menu" in the middle of a lesson shows the menu; the lesson resumes where it was."""
    citizen = Citizen(bot, fake, chat_id="menu-in-lesson")
    await consent(citizen)
    await citizen.say(citizen.key("Bài học"))
    skill = SKILLS["sk_spot_phone_scam"]
    await citizen.say(citizen.key(skill["title"]))
    await citizen.say(citizen.key("Tiếp"))
    assert first_line(skill["steps"][1]["text"]) in citizen.last
    await citizen.say("menu")
    assert "Bạn muốn làm gì" in citizen.last
    await citizen.say(citizen.key("Bài học"))
    await citizen.say(citizen.key(skill["title"]))
    assert first_line(skill["steps"][1]["text"]) in citizen.last
    await read_to_quiz(citizen)
    await answer_quiz(citizen, skill)
    assert "Chúc mừng" in citizen.last


async def test_lesson_and_quiz_with_digits_only_one_message_a_turn(
    bot: App, fake: FakeZalo
) -> None:
    """Issue 17 items 3 and 4: only digits typed ("1" at a lettered question is A), every turn
    answered with exactly one message (each counts against Zalo's quota), the long lesson list
    grouped in one message with a short instruction."""
    citizen = Citizen(bot, fake, chat_id="digits-only")
    counts: list[tuple[str, int]] = []

    async def press(key: str) -> str:
        assert key.isdigit(), key
        before = len(fake.sent(citizen.chat_id))
        answer = await citizen.say(key)
        counts.append((key, len(fake.sent(citizen.chat_id)) - before))
        return answer

    await press("1")
    await press(citizen.key("Đồng ý"))
    listing = await press(citizen.key("Bài học"))
    numbers = [key for key, _label in citizen.choices() if key.isdigit()]
    assert len(numbers) > 10
    assert f"Trả lời số từ 1 đến {numbers[-1]} để chọn" in listing
    assert "hoặc" not in listing.splitlines()[-1].split("(")[0]  # no "… 14 hoặc 15"
    skill = SKILLS["sk_spot_phishing"]
    await press(citizen.key(skill["title"]))
    for _step in skill["steps"]:
        await press(citizen.key("Tiếp"))
    first = skill["quiz"][0]
    assert str(first["choices"][0]) in citizen.last
    await press(str(len(first["choices"]) + 1))  # a number beyond the choices: asked again
    assert "Mình chưa hiểu" not in citizen.last
    assert str(first["choices"][0]) in citizen.last
    assert any(key == "A" for key, _label in citizen.choices())
    for question in skill["quiz"]:
        labels = [label for key, label in citizen.choices() if not key.isdigit()]
        assert labels == [str(c) for c in question["choices"]], citizen.last
        await press(str(question["correct"]))
        assert "Mình chưa hiểu" not in citizen.last
        assert "Đúng rồi" in citizen.last
    assert "Chúc mừng" in citizen.last
    assert [n for _key, n in counts] == [1] * len(counts), counts
