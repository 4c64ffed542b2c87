"""Content: validated with file:line messages; reload swaps atomically or keeps the last good."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content.problems import ContentError, Problem
from bot.content.snapshot import load_snapshot
from bot.content.store import ContentStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def content(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(ROOT / "content", target)
    return target


def test_bundled_content_is_valid() -> None:
    snapshot = load_snapshot(ROOT / "content")
    assert snapshot.messages.has("menu.title")
    assert snapshot.intents.match("Bắt Đầu") == "start"
    assert [g.id for g in snapshot.groups][:2] == ["basics", "public_services"]


def test_duplicate_message_key_names_file_and_line(content: Path) -> None:
    (content / "messages" / "extra.yaml").write_text(
        "# extra\nmenu:\n  title: Trùng\n", encoding="utf-8"
    )
    with pytest.raises(ContentError) as info:
        load_snapshot(content)
    assert "content/messages/extra.yaml:3: menu.title: trùng khóa" in str(info.value)


def test_broken_yaml_names_file_and_line(content: Path) -> None:
    (content / "messages" / "broken.yaml").write_text("a: b\nc: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContentError) as info:
        load_snapshot(content)
    assert "content/messages/broken.yaml:" in str(info.value)
    assert "YAML không hợp lệ" in str(info.value)


def test_intent_phrase_claimed_twice(content: Path) -> None:
    (content / "intents" / "x.yaml").write_text("intents:\n  other: [menu]\n", encoding="utf-8")
    with pytest.raises(ContentError) as info:
        load_snapshot(content)
    assert "content/intents/x.yaml:2: intents.other" in str(info.value)


async def test_reload_keeps_last_good_content_and_reports(content: Path) -> None:
    store = ContentStore(content)
    seen: list[int] = []

    async def listener(problems: list[Problem]) -> None:
        seen.append(len(problems))

    store.listeners.append(listener)
    before = store.current
    core = content / "messages" / "core.yaml"
    original = core.read_text(encoding="utf-8")
    core.write_text(original + "\n  bad: [\n", encoding="utf-8")
    assert await store.changed()
    problems = await store.reload()
    assert problems and store.current is before
    assert seen == [len(problems)]
    core.write_text(original.replace("Bạn muốn làm gì?", "Hôm nay bạn cần gì?"), encoding="utf-8")
    assert await store.reload() == []
    assert store.current is not before
    assert store.current.messages("menu.title").startswith("Hôm nay bạn cần gì?")
    assert seen == [len(problems), 0]
    assert not await store.changed()
