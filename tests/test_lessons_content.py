"""Lesson content: the 14 bundled skills load, and every kind of mistake is reported with its
file, line and field, in plain Vietnamese."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from bot.content.groups import Group
from bot.content.lessons import CHOICES, QUESTIONS, STEPS, Lessons, check_links, load_lessons
from bot.content.problems import ContentError, Problem
from bot.content.sections import Reader
from bot.content.snapshot import load_snapshot
from bot.content.store import ContentStore
from tests.conftest import CONTENT

CATALOG = Path("/work/shared/catalog.yaml")
GROUPS = (
    Group("basics", "Cơ bản", 0),
    Group("payments", "Thanh toán", 2),
    Group("safety", "An toàn", 4),
)

GOOD = """\
skills:
  - id: sk_test
    group: safety
    job: 4
    title: Bài thử
    summary: Một bài để thử.
    topics: [topic_a]
    steps:
      - id: mot
        text: Bước một.
      - id: hai
        text: Bước hai.
      - id: ba
        text: Bước ba.
    quiz:
      - id: c1
        text: Câu một?
        choices: [Có, Không]
        correct: 1
        explain: Vì vậy.
        critical: true
      - id: c2
        text: Câu hai?
        choices: [A, B, C]
        correct: 3
        explain: Vì vậy.
      - id: c3
        text: Câu ba?
        choices: [A, B]
        correct: 2
        explain: Vì vậy.
    pass:
      min_score: 0.8
      critical_all: true
"""


def load(tmp_path: Path, text: str, name: str = "test.yaml") -> tuple[Lessons, list[Problem]]:
    folder = tmp_path / "content" / "lessons"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    reader = Reader(tmp_path / "content")
    lessons = load_lessons(reader, GROUPS)
    return lessons, reader.problems


def edited(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


def one(problems: list[Problem], field_part: str, message_part: str) -> Problem:
    found = [p for p in problems if field_part in p.field and message_part in p.message]
    assert found, f"no problem with {field_part!r} / {message_part!r} in {problems}"
    return found[0]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_bundled_lessons_are_the_14_catalog_skills() -> None:
    snapshot = load_snapshot(CONTENT)
    catalog = yaml.safe_load(CATALOG.read_text(encoding="utf-8")) if CATALOG.exists() else None
    lessons = snapshot.lessons
    assert len(lessons.skills) == 14
    if catalog is not None:
        assert {s.id for s in lessons.skills} == {s["id"] for s in catalog["skills"]}
        for entry in catalog["skills"]:
            skill = lessons.get(entry["id"])
            assert skill is not None
            assert skill.group == entry["group"]
            assert set(entry["topics"]) <= set(skill.topics)  # the catalog's, and newer entries
    for skill in lessons.skills:
        group = snapshot.group(skill.group)
        assert group is not None and skill.job == group.job
        assert STEPS[0] <= len(skill.steps) <= STEPS[1]
        assert QUESTIONS[0] <= len(skill.quiz) <= QUESTIONS[1]
        assert all(q.explain for q in skill.quiz)
        assert skill.rule.min_score == 0.8 and skill.rule.critical_all


def test_a_good_file_loads(tmp_path: Path) -> None:
    lessons, problems = load(tmp_path, GOOD)
    assert problems == []
    skill = lessons.get("sk_test")
    assert skill is not None
    assert [s.id for s in skill.steps] == ["mot", "hai", "ba"]
    assert skill.quiz[1].answer == "C"
    assert skill.file == "content/lessons/test.yaml"
    assert skill.rule.passed({"c1": True, "c2": True, "c3": True}, skill.quiz)
    assert not skill.rule.passed({"c1": True, "c2": True}, skill.quiz)  # 2/3 < 80%


def test_pass_rule_requires_critical_questions() -> None:
    from bot.content.lessons import PassRule, QuizQuestion

    quiz = tuple(
        QuizQuestion(f"q{i}", "?", ("a", "b"), 1, "x", critical=(i == 0)) for i in range(5)
    )
    rule = PassRule(min_score=0.8, critical_all=True)
    assert rule.passed({"q1": True, "q2": True, "q3": True, "q4": True, "q0": True}, quiz)
    assert rule.passed({"q0": True, "q1": True, "q2": True, "q3": True}, quiz)  # 4/5
    assert not rule.passed({"q1": True, "q2": True, "q3": True, "q4": True}, quiz)  # critical
    assert PassRule(0.8, critical_all=False).passed(
        {"q1": True, "q2": True, "q3": True, "q4": True}, quiz
    )


@pytest.mark.parametrize(
    ("old", "new", "field_part", "message_part", "needle"),
    [
        ("group: safety", "group: nowhere", ".group", "không có trong groups.yaml", "nowhere"),
        ("job: 4", "job: 2", ".job", "phục vụ nhiệm vụ 4", "job: 2"),
        ("job: 4", "job: 9", ".job", "từ 1 đến 5", "job: 9"),
        ("id: hai", "id: mot", "steps[2].id", "trùng mã bước", "id: mot\n        text: Bước hai"),
        ("id: c2", "id: c1", "quiz[2].id", "trùng mã câu hỏi", "id: c1\n        text: Câu hai"),
        ("choices: [Có, Không]", "choices: [Có]", "quiz[1].choices", "từ 2 đến 6", "[Có]"),
        (
            "choices: [A, B, C]",
            "choices: [A, B, C, D, E, F, G]",
            "quiz[2].choices",
            "từ 2 đến 6",
            "[A, B, C, D",
        ),
        ("correct: 3", "correct: 4", "quiz[2].correct", "chỉ có 3 lựa chọn", "correct: 4"),
        ("correct: 2", "correct: hai", "quiz[3].correct", "số thứ tự", "correct: hai"),
        ("choices: [A, B]", "choices: [A, A]", "quiz[3].choices[2]", "trùng lựa chọn", "[A, A]"),
        ("explain: Vì vậy.\n        critical", "critical", "quiz[1].explain", "thiếu", "id: c1"),
        ("min_score: 0.8", "min_score: 80", "pass.min_score", "không quá 1", "min_score"),
        ("critical: true", "critical: yes please", "critical", "true hoặc false", "critical"),
        ("id: sk_test", "id: Sk Test", "skills[1].id", "không hợp lệ", "Sk Test"),
        ("id: mot", "id: Một", "steps[1].id", "không hợp lệ", "Một"),
        ("    summary:", "    summry:", "skills[1].summry", "gõ nhầm", "summry"),
        ("topics: [topic_a]", "topics: [topic_a, topic_a]", ".topics", "lặp lại", "topics"),
    ],
)
def test_mistakes_are_reported_with_file_line_and_field(
    tmp_path: Path, old: str, new: str, field_part: str, message_part: str, needle: str
) -> None:
    text = edited(old, new)
    _, problems = load(tmp_path, text)
    problem = one(problems, field_part, message_part)
    assert problem.file == "content/lessons/test.yaml"
    first_needle_line = needle.split("\n")[0]
    lines = [i for i, ln in enumerate(text.splitlines(), 1) if first_needle_line in ln]
    assert problem.line in lines, (problem, lines)
    assert str(problem).startswith(f"content/lessons/test.yaml:{problem.line}: ")


def test_step_and_question_counts(tmp_path: Path) -> None:
    two_steps = edited("      - id: ba\n        text: Bước ba.\n", "")
    _, problems = load(tmp_path, two_steps)
    problem = one(problems, "skills[1].steps", "có 2 mục, cần từ 3 đến 6")
    assert problem.line in (line_of(two_steps, "steps:"), line_of(two_steps, "steps:") + 1)
    seven = GOOD.replace(
        "      - id: ba\n        text: Bước ba.\n",
        "".join(f"      - id: b{i}\n        text: Bước {i}.\n" for i in range(5)),
    )
    _, problems = load(tmp_path, seven)
    one(problems, "skills[1].steps", "có 7 mục")
    extra = "".join(
        f"      - id: x{i}\n        text: Câu?\n        choices: [A, B]\n"
        f"        correct: 1\n        explain: Vì.\n"
        for i in range(3)
    )
    six_questions = GOOD.replace("    pass:\n", extra + "    pass:\n")
    _, problems = load(tmp_path, six_questions)
    one(problems, "skills[1].quiz", "có 6 mục, cần từ 3 đến 5")


def test_text_longer_than_2000_characters(tmp_path: Path) -> None:
    text = edited("text: Bước hai.", "text: " + "dài " * 600)
    _, problems = load(tmp_path, text)
    problem = one(problems, "steps[2].text", "quá giới hạn 2000")
    assert problem.line == line_of(text, "dài dài")


def test_a_key_written_twice(tmp_path: Path) -> None:
    text = edited("        correct: 3\n", "        correct: 3\n        correct: 1  # again\n")
    _, problems = load(tmp_path, text)
    problem = one(problems, "correct", "viết hai lần")
    assert problem.line == line_of(text, "# again")


def test_duplicate_skill_ids_across_files(tmp_path: Path) -> None:
    load(tmp_path, GOOD, "a.yaml")
    _, problems = load(tmp_path, GOOD, "b.yaml")
    problem = one(problems, "skills[1].id", "trùng mã kỹ năng “sk_test”, đã có trong")
    assert problem.file == "content/lessons/b.yaml"
    assert "content/lessons/a.yaml:2" in problem.message
    assert problem.line == 2


def test_broken_yaml_and_wrong_shapes(tmp_path: Path) -> None:
    _, problems = load(tmp_path, "skills: [\n  - id: x\n")
    assert problems and problems[0].line is not None
    _, problems = load(tmp_path, "skills:\n  - just a string\n")
    one(problems, "skills[1]", "phải là bảng")
    _, problems = load(tmp_path, "lessons: []\n")
    one(problems, "skills", "thiếu")


def test_limits_in_the_schema_match_the_loader() -> None:
    schema = json.loads((CONTENT / "schema" / "lessons.schema.json").read_text("utf-8"))
    skill = schema["$defs"]["skill"]["properties"]
    assert (skill["steps"]["minItems"], skill["steps"]["maxItems"]) == STEPS
    assert (skill["quiz"]["minItems"], skill["quiz"]["maxItems"]) == QUESTIONS
    choices = skill["quiz"]["items"]["properties"]["choices"]
    assert (choices["minItems"], choices["maxItems"]) == CHOICES
    assert schema["$defs"]["text"]["maxLength"] == 2000


# --- lessons and knowledge point at each other -------------------------------------------------


def _knowledge(reader: Reader, groups: tuple[Group, ...]):  # type: ignore[no-untyped-def]
    from bot.content.knowledge import load_knowledge

    return load_knowledge(reader, [g.id for g in groups])


def test_bundled_skills_and_knowledge_link_both_ways() -> None:
    from bot.content.groups import load_groups

    reader = Reader(CONTENT)
    groups = load_groups(reader)
    entries = _knowledge(reader, groups)
    lessons = load_lessons(reader, groups)
    check_links(reader, lessons, entries)
    assert reader.problems == []
    by_id = {e.id: e for e in entries}
    for skill in lessons.skills:
        for topic in skill.topics:
            target = lessons.get(by_id[topic].skill or "")
            assert target is not None and topic in target.topics


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(CONTENT, root)
    return root


def _problems(root: Path) -> list[Problem]:
    from bot.content.groups import load_groups

    reader = Reader(root)
    groups = load_groups(reader)
    entries = _knowledge(reader, groups)
    lessons = load_lessons(reader, groups)
    check_links(reader, lessons, entries)
    return reader.problems


def test_unknown_topic_in_a_skill(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "lessons" / "safety.yaml"
    text = path.read_text("utf-8")
    changed = text.replace(
        "topics: [scam_fake_bank_sms, scam_phishing_link, scam_otp_request]",
        "topics: [scam_fake_bank_sms, scam_phishing_link, scam_otp_request, no_such_topic]",
    )
    assert changed != text
    path.write_text(changed, "utf-8")
    problem = one(_problems(root), "sk_spot_phishing.topics", "“no_such_topic” không có")
    assert problem.file == "content/lessons/safety.yaml"
    assert problem.line == line_of(changed, "no_such_topic")


def test_knowledge_skill_must_point_back(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "lessons" / "safety.yaml"
    text = path.read_text("utf-8")
    path.write_text(
        text.replace(
            "topics: [scam_fake_bank_sms, scam_phishing_link, scam_otp_request]",
            "topics: [scam_fake_bank_sms, scam_phishing_link]",
        ),
        "utf-8",
    )
    problem = one(_problems(root), "scam_otp_request.skill", "không ghi chủ đề này trong topics")
    assert problem.file == "content/knowledge/safety.yaml"
    kpath = root / "knowledge" / "safety.yaml"
    ktext = kpath.read_text("utf-8")
    kpath.write_text(ktext.replace("skill: sk_spot_phishing", "skill: sk_nope", 1), "utf-8")
    one(_problems(root), ".skill", "“sk_nope” không có trong content/lessons")


def test_topic_whose_entry_has_no_skill(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    kpath = root / "knowledge" / "safety.yaml"
    ktext = kpath.read_text("utf-8")
    kpath.write_text(ktext.replace("    skill: sk_report_scam\n", "", 1), "utf-8")
    one(_problems(root), ".skill", "thiếu “skill: sk_report_scam”")


async def test_a_broken_lesson_is_refused_on_reload_and_the_old_one_kept(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    store = ContentStore(root)
    path = root / "lessons" / "safety.yaml"
    text = path.read_text("utf-8")
    path.write_text(text.replace("correct: 3", "correct: 7", 1), "utf-8")
    problems = await store.reload()
    assert any("correct" in p.field and "lựa chọn" in p.message for p in problems)
    assert store.current.lessons.get("sk_spot_phishing") is not None
    with pytest.raises(ContentError):
        load_snapshot(root)
    path.write_text(text.replace("Nhận diện tin nhắn và đường link giả", "Tin nhắn giả", 1))
    assert await store.reload() == []
    skill = store.current.lessons.get("sk_spot_phishing")
    assert skill is not None and skill.title == "Tin nhắn giả"
