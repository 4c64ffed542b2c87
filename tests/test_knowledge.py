"""Knowledge entries: loading, validation messages (file:line, field, plain words), reload."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.content.problems import ContentError, Problem
from bot.content.snapshot import load_snapshot
from bot.content.store import ContentStore

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
BASICS = "knowledge/basics.yaml"
# Entries added after the review of 2026-12-02 (issue #16); an evaluation set uses these ids.
NEW_2026_12 = {
    "reorganisation_2025",
    "vneid_procedures",
    "traffic_fine_online",
    "scam_fake_traffic_fine",
    "bank_new_device_face",
    "bank_check_balance",
    "pension_benefits_bank",
    "sell_farm_produce_online",
    "scam_fake_loan_app",
    "scam_child_hospital",
    "scam_fake_evn_bhxh",
    "emergency_numbers",
    "facebook_hacked",
    "phone_forgot_lock_google",
}


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A private copy of the bundled content, to break on purpose."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def edit(content: Path, name: str, old: str, new: str, count: int = 1) -> None:
    path = content / name
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(content: Path, name: str, needle: str, nth: int = 1) -> int:
    seen = 0
    for number, line in enumerate((content / name).read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return number
    raise AssertionError(needle)


def problems(content: Path) -> list[Problem]:
    with pytest.raises(ContentError) as caught:
        load_snapshot(content)
    return caught.value.problems


def test_bundled_content_is_valid_and_complete() -> None:
    snapshot = load_snapshot(CONTENT)
    ids = {entry.id for entry in snapshot.knowledge}
    catalog = Path("/work/shared/catalog.yaml")
    if catalog.exists():
        import yaml

        topics = {t["id"] for t in yaml.safe_load(catalog.read_text(encoding="utf-8"))["topics"]}
        assert topics <= ids
    assert ids >= NEW_2026_12
    assert len(ids) == 70
    for entry in snapshot.knowledge:
        assert len(entry.questions) >= 6, entry.id
        assert len(entry.answer) <= 400, entry.id  # one phone screen
        assert entry.details is not None and len(entry.details) <= 2000, entry.id
        assert entry.file.startswith("content/knowledge/")
        for related in entry.related:
            assert snapshot.entry(related) is not None
        if entry.skill:
            assert snapshot.lessons.get(entry.skill) is not None


def test_duplicate_id_names_both_places(content: Path) -> None:
    edit(content, BASICS, "- id: phone_connect_wifi_data", "- id: phone_basic_controls")
    found = problems(content)
    line = line_of(content, BASICS, "- id: phone_basic_controls", nth=2)
    first = line_of(content, BASICS, "- id: phone_basic_controls")
    dup = [p for p in found if "trùng mã" in p.message]
    assert dup, found
    assert dup[0].file == "content/knowledge/basics.yaml"
    assert dup[0].line == line
    assert dup[0].field.endswith(".id")
    assert f"content/knowledge/basics.yaml:{first}" in dup[0].message
    assert str(dup[0]).startswith(f"content/knowledge/basics.yaml:{line}: ")


def test_unknown_related_id(content: Path) -> None:
    edit(
        content,
        BASICS,
        "related: [phone_font_size_accessibility, phone_screenshot_share]",
        "related: [phone_font_size_accessibility, khong_co_muc_nay]",
    )
    found = problems(content)
    line = line_of(content, BASICS, "khong_co_muc_nay")
    assert any(
        p.line == line
        and p.field == "entries[1] (phone_basic_controls).related"
        and "khong_co_muc_nay" in p.message
        for p in found
    ), found


def test_missing_answer(content: Path) -> None:
    text = (content / BASICS).read_text(encoding="utf-8")
    start = text.index("    answer: |")
    end = text.index("    related:", start)
    (content / BASICS).write_text(text[:start] + text[end:], encoding="utf-8")
    found = problems(content)
    line = line_of(content, BASICS, "- id: phone_basic_controls")
    assert any(
        p.line == line and p.field.endswith(".answer") and "thiếu" in p.message for p in found
    ), found


def test_answer_longer_than_one_phone_screen(content: Path) -> None:
    long_answer = "    answer: |\n" + "".join(
        f"      Dòng số {i} của câu trả lời.\n" for i in range(90)
    )
    edit(content, BASICS, "    answer: |\n", long_answer)
    found = problems(content)
    line = line_of(content, BASICS, "    answer: |")
    hit = [p for p in found if p.field.endswith(".answer") and "400" in p.message]
    assert "details" in hit[0].message  # tells the admin where the steps go
    assert hit and hit[0].line == line, found


def test_details_longer_than_zalo_allows(content: Path) -> None:
    steps = "    details: |\n" + "".join(f"      {i}. Bước số {i} rất dài.\n" for i in range(120))
    edit(content, BASICS, "    details: |\n", steps)
    found = problems(content)
    line = line_of(content, BASICS, "    details: |")
    assert any(
        p.line == line
        and p.field == "entries[1] (phone_basic_controls).details"
        and "2000" in p.message
        for p in found
    ), found


def test_details_markup_and_known_field(content: Path) -> None:
    edit(content, BASICS, "    details: |\n", "    details: |\n      1. <b>Bấm</b> nút **nguồn\n")
    found = problems(content)
    line = line_of(content, BASICS, "    details: |")
    details = [p for p in found if p.line == line and p.field.endswith(".details")]
    assert any("**" in p.message for p in details), found
    assert any("HTML" in p.message for p in details), found
    assert not any("trường lạ" in p.message for p in found), found


def test_bad_yaml_names_the_line(content: Path) -> None:
    edit(content, BASICS, "    group: basics\n", "    group: [basics\n")
    found = problems(content)
    assert any(p.file == "content/knowledge/basics.yaml" and "YAML" in p.message for p in found)
    assert all(p.line for p in found if p.file.endswith("basics.yaml"))


def test_unknown_group_and_unknown_field_and_few_questions(content: Path) -> None:
    edit(content, BASICS, "    group: basics\n", "    group: basic\n")
    edit(content, BASICS, "    questions:\n", "    question:\n", count=1)
    found = problems(content)
    group_line = line_of(content, BASICS, "    group: basic")
    assert any(
        p.line == group_line and "groups.yaml" in p.message and p.field.endswith(".group")
        for p in found
    ), found
    field_line = line_of(content, BASICS, "    question:") + 1  # a list's line: its first item
    assert any(p.line == field_line and "trường lạ" in p.message for p in found), found
    assert any(p.field.endswith(".questions") and "câu hỏi" in p.message for p in found)
    assert not any("không có mục nào" in p.message for p in found), found  # no cascade


def test_fewer_than_six_questions(content: Path) -> None:
    text = (content / BASICS).read_text(encoding="utf-8")
    start = text.index("    questions:\n") + len("    questions:\n")
    kept = "".join(text[start:].splitlines(keepends=True)[:3])
    end = text.index("    keywords:", start)
    (content / BASICS).write_text(text[:start] + kept + text[end:], encoding="utf-8")
    found = problems(content)
    line = line_of(content, BASICS, "    questions:") + 1  # a list's line is its first item's
    assert any(
        p.line == line and "ít nhất 6" in p.message and "mới có 3" in p.message for p in found
    ), found


def test_same_question_in_two_entries(content: Path) -> None:
    edit(
        content,
        BASICS,
        "      - Làm sao kết nối Wi-Fi nhà mình?",
        "      - Điện thoại tắt màn hình rồi mở lại thế nào?",
    )
    found = problems(content)
    assert any("trùng với mục “phone_basic_controls”" in p.message for p in found), found


def test_unknown_skill_is_reported(content: Path) -> None:
    edit(content, BASICS, "skill: sk_install_official_app", "skill: sk_khong_co")
    found = problems(content)
    assert any(p.field.endswith(".skill") and "sk_khong_co" in p.message for p in found), found


def test_teencode_problems(content: Path) -> None:
    edit(content, "teencode.yaml", "  ko: không\n", "  ko: không\n  ko: có\n  hai tu: x\n")
    found = problems(content)
    twice = line_of(content, "teencode.yaml", "  ko: có")
    assert any(p.file == "content/teencode.yaml" and p.line == twice for p in found), found
    assert any("MỘT từ" in p.message for p in found), found


def test_unquoted_yes_no_key_in_teencode(content: Path) -> None:
    edit(content, "teencode.yaml", '  "off": tắt\n', "  off: tắt\n")
    found = problems(content)
    assert any("ngoặc kép" in p.message for p in found), found


async def test_reload_failure_keeps_the_old_content(content: Path) -> None:
    store = ContentStore(content)
    before = store.current
    assert before.index.search("quên mật khẩu VNeID").entry_id == "vneid_reset_password"
    edit(content, BASICS, "- id: phone_connect_wifi_data", "- id: phone_basic_controls")
    reported: list[list[Problem]] = []

    async def listener(found: list[Problem]) -> None:
        reported.append(found)

    store.listeners.append(listener)
    found = await store.reload()
    assert found and any("trùng mã" in p.message for p in found)
    assert store.current is before
    assert store.current.index.search("quên mật khẩu VNeID").entry_id == "vneid_reset_password"
    assert reported == [found]


async def test_reload_success_swaps_content_and_index_together(content: Path) -> None:
    store = ContentStore(content)
    assert store.current.entry("phone_basic_controls") is not None
    edit(
        content,
        BASICS,
        "    title: 'Làm quen điện thoại: nút bấm, màn hình, tắt/mở'",
        "    title: 'Làm quen điện thoại: nút nguồn và màn hình'",
    )
    edit(
        content,
        BASICS,
        "      - Điện thoại tắt màn hình rồi mở lại thế nào?",
        "      - Điện thoại tắt màn hình rồi mở lại thế nào?\n"
        "      - máy cày nhà tôi đề không nổ thì làm sao",
    )
    assert await store.reload() == []
    current = store.current
    entry = current.entry("phone_basic_controls")
    assert entry is not None and entry.title.endswith("nút nguồn và màn hình")
    assert current.index.entries["phone_basic_controls"] is entry
    match = current.index.search("máy cày nhà tôi đề không nổ thì làm sao")
    assert match.entry_id == "phone_basic_controls"


def test_start_up_refuses_invalid_content(content: Path) -> None:
    edit(content, BASICS, "- id: phone_connect_wifi_data", "- id: phone_basic_controls")
    with pytest.raises(ContentError):
        ContentStore(content)


def test_json_schema_ships_and_files_point_to_it() -> None:
    schema = json.loads((CONTENT / "schema" / "knowledge.schema.json").read_text("utf-8"))
    entry = schema["properties"]["entries"]["items"]
    assert set(entry["required"]) >= {"id", "group", "title", "questions", "answer"}
    assert entry["properties"]["answer"]["maxLength"] == 400  # the same limits as the loader
    assert entry["properties"]["details"]["maxLength"] == 2000
    assert entry["properties"]["questions"]["minItems"] == 6
    for path in sorted((CONTENT / "knowledge").glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schema/knowledge.schema.json", path


def test_json_schema_accepts_the_bundled_files() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads((CONTENT / "schema" / "knowledge.schema.json").read_text("utf-8"))
    for path in sorted((CONTENT / "knowledge").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)


def test_lessons_json_schema_accepts_the_bundled_files() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads((CONTENT / "schema" / "lessons.schema.json").read_text("utf-8"))
    for path in sorted((CONTENT / "lessons").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
