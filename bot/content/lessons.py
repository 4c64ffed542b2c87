"""Lessons (``content/lessons/*.yaml``): skills made of short steps and a short quiz.

Each skill belongs to a group (``content/groups.yaml``) and so to one of the teams' five jobs
(0 for basics). Step and question ids are stable: a citizen in the middle of a lesson is
followed by these ids, so an admin may reorder, edit or add steps while people are learning.
Every problem found is reported with file, line and field, in plain Vietnamese.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bot.content.groups import Group
from bot.content.problems import Problem
from bot.content.sections import Reader
from bot.content.yamlio import LineDict, LineList, duplicate_keys

SKILL_ID = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
PART_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_TEXT = 2000
MAX_TITLE = 120
MAX_SUMMARY = 300
MAX_CHOICE = 80
STEPS = (3, 6)
QUESTIONS = (3, 5)
CHOICES = (2, 6)
FIVE_JOBS = frozenset({1, 2, 3, 4, 5})  # the teams' five jobs; basics (0) is not one of them

SKILL_KEYS = frozenset(
    {"id", "group", "job", "title", "summary", "topics", "steps", "quiz", "pass"}
)
STEP_KEYS = frozenset({"id", "text", "image"})
QUESTION_KEYS = frozenset({"id", "text", "choices", "correct", "explain", "critical"})
PASS_KEYS = frozenset({"min_score", "critical_all"})


@dataclass(frozen=True)
class Step:
    """One screen of a lesson: a short text, maybe an image, with a stable id."""

    id: str
    text: str
    image: str | None = None


@dataclass(frozen=True)
class QuizQuestion:
    """A multiple-choice question; ``correct`` is the 1-based index of the right choice."""

    id: str
    text: str
    choices: tuple[str, ...]
    correct: int
    explain: str
    critical: bool = False

    def is_right(self, choice: int) -> bool:
        """Whether the 1-based ``choice`` is the correct one."""
        return choice == self.correct

    @property
    def answer(self) -> str:
        """The text of the correct choice."""
        return self.choices[self.correct - 1]


@dataclass(frozen=True)
class PassRule:
    """What passing means: a share of right answers, and maybe every critical one right."""

    min_score: float = 0.8
    critical_all: bool = True

    def passed(self, right: Mapping[str, bool], quiz: tuple[QuizQuestion, ...]) -> bool:
        """Whether answers (question id -> right or not) pass this quiz."""
        if not quiz:
            return False
        score = sum(1 for q in quiz if right.get(q.id)) / len(quiz)
        if score + 1e-9 < self.min_score:
            return False
        return not (self.critical_all and any(q.critical and not right.get(q.id) for q in quiz))


@dataclass(frozen=True)
class Skill:
    """A skill: a lesson (steps) and a quiz, serving one of the five jobs (0 = basics)."""

    id: str
    group: str
    job: int
    title: str
    summary: str
    topics: tuple[str, ...]
    steps: tuple[Step, ...]
    quiz: tuple[QuizQuestion, ...]
    rule: PassRule = field(default_factory=PassRule)
    file: str = ""
    line: int = 0
    topics_line: int = 0

    def step(self, step_id: str) -> Step | None:
        """The step with this id."""
        return next((s for s in self.steps if s.id == step_id), None)

    def step_index(self, step_id: str) -> int | None:
        """The 0-based position of a step, if it still exists."""
        return next((i for i, s in enumerate(self.steps) if s.id == step_id), None)

    def question(self, question_id: str) -> QuizQuestion | None:
        """The question with this id."""
        return next((q for q in self.quiz if q.id == question_id), None)


@dataclass(frozen=True)
class Lessons:
    """Every skill, in file order, with lookups."""

    skills: tuple[Skill, ...] = ()
    # skill id -> skill (the first of that id): reports look skills up once per citizen
    _by_id: dict[str, Skill] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Skill] = {}
        for skill in self.skills:
            by_id.setdefault(skill.id, skill)
        object.__setattr__(self, "_by_id", by_id)

    def get(self, skill_id: str) -> Skill | None:
        """The skill with this id."""
        return self._by_id.get(skill_id)

    def by_job(self, job: int) -> tuple[Skill, ...]:
        """The skills serving one job (0 = basics), in file order."""
        return tuple(s for s in self.skills if s.job == job)

    def by_group(self, group_id: str) -> tuple[Skill, ...]:
        """The skills of one group, in file order."""
        return tuple(s for s in self.skills if s.group == group_id)

    def jobs_of(self, skill_ids: Iterable[str]) -> set[int]:
        """The jobs (``FIVE_JOBS`` and basics, 0) that these skills serve."""
        by_id = self._by_id
        return {by_id[i].job for i in set(skill_ids) if i in by_id}

    def reached_five(self, skill_ids: Iterable[str]) -> bool:
        """Whether these skills (passed or guided) cover each of the five jobs."""
        return self.jobs_of(skill_ids) >= FIVE_JOBS


class _SkillReader:
    """Reads one skill mapping, recording problems against its file."""

    def __init__(self, reader: Reader, path: Path) -> None:
        self.reader = reader
        self.path = path

    def problem(self, line: int | None, where: str, message: str) -> None:
        self.reader.problem(self.path, line, where, message)

    def unknown_keys(self, item: LineDict, allowed: frozenset[str], where: str) -> None:
        for key in item:
            if key not in allowed:
                self.problem(
                    item.line_of(key),
                    f"{where}.{key}",
                    "trường không có trong định dạng bài học (gõ nhầm tên?)",
                )

    def slug(self, item: LineDict, where: str, pattern: re.Pattern[str], hint: str) -> str | None:
        value = self.reader.text(self.path, item, "id", where)
        if value is not None and not pattern.match(value):
            self.problem(item.line_of("id"), f"{where}.id", f"mã “{value}” không hợp lệ: {hint}")
            return None
        return value

    def items(self, item: LineDict, key: str, where: str, bounds: tuple[int, int]) -> LineList:
        value = item.get(key)
        low, high = bounds
        if not isinstance(value, LineList):
            self.problem(item.line_of(key), f"{where}.{key}", "thiếu, hoặc không phải danh sách")
            return LineList()
        if not low <= len(value) <= high:
            self.problem(
                item.line_of(key),
                f"{where}.{key}",
                f"có {len(value)} mục, cần từ {low} đến {high} mục",
            )
        return value

    def steps(self, item: LineDict, where: str) -> tuple[Step, ...]:
        out: list[Step] = []
        seen: set[str] = set()
        raw = self.items(item, "steps", where, STEPS)
        for index, element in enumerate(raw):
            at = f"{where}.steps[{index + 1}]"
            if not isinstance(element, LineDict):
                self.problem(raw.line_of(index), at, "phải là bảng có id và text")
                continue
            self.unknown_keys(element, STEP_KEYS, at)
            sid = self.slug(element, at, PART_ID, "chỉ dùng chữ thường không dấu, số, - hoặc _")
            text = self.reader.text(self.path, element, "text", at, max_len=MAX_TEXT)
            image = self.reader.text(self.path, element, "image", at, required=False)
            if sid is not None and sid in seen:
                self.problem(element.line_of("id"), f"{at}.id", f"trùng mã bước “{sid}”")
                continue
            if sid and text:
                seen.add(sid)
                out.append(Step(id=sid, text=text, image=image))
        return tuple(out)

    def question(self, element: LineDict, at: str) -> QuizQuestion | None:
        self.unknown_keys(element, QUESTION_KEYS, at)
        qid = self.slug(element, at, PART_ID, "chỉ dùng chữ thường không dấu, số, - hoặc _")
        text = self.reader.text(self.path, element, "text", at, max_len=MAX_TEXT)
        explain = self.reader.text(self.path, element, "explain", at, max_len=MAX_TEXT)
        raw = self.items(element, "choices", at, CHOICES)
        choices: list[str] = []
        folded: set[str] = set()
        for index, choice in enumerate(raw):
            cat = f"{at}.choices[{index + 1}]"
            if not isinstance(choice, (str, int, float)) or not str(choice).strip():
                self.problem(raw.line_of(index), cat, "phải là một đoạn chữ")
                continue
            label = str(choice).strip()
            if len(label) > MAX_CHOICE:
                self.problem(
                    raw.line_of(index), cat, f"dài {len(label)} ký tự, quá giới hạn {MAX_CHOICE}"
                )
            if label.casefold() in folded:
                self.problem(raw.line_of(index), cat, f"trùng lựa chọn “{label}”")
            folded.add(label.casefold())
            choices.append(label)
        correct = element.get("correct")
        if isinstance(correct, bool) or not isinstance(correct, int):
            self.problem(
                element.line_of("correct"),
                f"{at}.correct",
                "thiếu, hoặc không phải số thứ tự của đáp án đúng (1, 2, 3...)",
            )
            correct = None
        elif not 1 <= correct <= len(raw):
            self.problem(
                element.line_of("correct"),
                f"{at}.correct",
                f"là {correct}, nhưng câu này chỉ có {len(raw)} lựa chọn",
            )
            correct = None
        critical = element.get("critical", False)
        if critical is None:
            critical = False
        if not isinstance(critical, bool):
            self.problem(element.line_of("critical"), f"{at}.critical", "phải là true hoặc false")
            critical = False
        if qid is None or text is None or explain is None or correct is None:
            return None
        if len(choices) != len(raw) or not CHOICES[0] <= len(choices) <= CHOICES[1]:
            return None
        return QuizQuestion(
            id=qid,
            text=text,
            choices=tuple(choices),
            correct=correct,
            explain=explain,
            critical=critical,
        )

    def quiz(self, item: LineDict, where: str) -> tuple[QuizQuestion, ...]:
        out: list[QuizQuestion] = []
        seen: set[str] = set()
        raw = self.items(item, "quiz", where, QUESTIONS)
        for index, element in enumerate(raw):
            at = f"{where}.quiz[{index + 1}]"
            if not isinstance(element, LineDict):
                self.problem(raw.line_of(index), at, "phải là bảng có id, text, choices...")
                continue
            question = self.question(element, at)
            if question is None:
                continue
            if question.id in seen:
                self.problem(element.line_of("id"), f"{at}.id", f"trùng mã câu hỏi “{question.id}”")
                continue
            seen.add(question.id)
            out.append(question)
        return tuple(out)

    def rule(self, item: LineDict, where: str) -> PassRule:
        raw = item.get("pass")
        if raw is None:
            return PassRule()
        at = f"{where}.pass"
        if not isinstance(raw, LineDict):
            self.problem(item.line_of("pass"), at, "phải là bảng có min_score và critical_all")
            return PassRule()
        self.unknown_keys(raw, PASS_KEYS, at)
        min_score: Any = raw.get("min_score", 0.8)
        if isinstance(min_score, bool) or not isinstance(min_score, (int, float)):
            self.problem(raw.line_of("min_score"), f"{at}.min_score", "phải là số từ 0 đến 1")
            min_score = 0.8
        elif not 0 < min_score <= 1:
            self.problem(
                raw.line_of("min_score"),
                f"{at}.min_score",
                f"là {min_score}, phải lớn hơn 0 và không quá 1 (ví dụ 0.8 là 80%)",
            )
            min_score = 0.8
        critical_all = raw.get("critical_all", True)
        if not isinstance(critical_all, bool):
            self.problem(
                raw.line_of("critical_all"), f"{at}.critical_all", "phải là true hoặc false"
            )
            critical_all = True
        return PassRule(min_score=float(min_score), critical_all=critical_all)

    def skill(self, item: LineDict, where: str, groups: Mapping[str, Group]) -> Skill | None:
        self.unknown_keys(item, SKILL_KEYS, where)
        sid = self.slug(item, where, SKILL_ID, "chỉ dùng chữ thường không dấu, số và _")
        title = self.reader.text(self.path, item, "title", where, max_len=MAX_TITLE)
        summary = self.reader.text(
            self.path, item, "summary", where, required=False, max_len=MAX_SUMMARY
        )
        group_id = self.reader.text(self.path, item, "group", where)
        group = groups.get(group_id) if group_id else None
        if group_id and group is None:
            known = ", ".join(groups) or "(chưa có nhóm nào)"
            self.reader.reference(
                self.path,
                item.line_of("group"),
                f"{where}.group",
                f"nhóm “{group_id}” không có trong groups.yaml (có: {known})",
            )
        job = item.get("job")
        if job is None:
            self.problem(item.line, f"{where}.job", "thiếu trường bắt buộc")
        elif isinstance(job, bool) or not isinstance(job, int) or not 0 <= job <= 5:
            self.problem(
                item.line_of("job"),
                f"{where}.job",
                "phải là số từ 1 đến 5, hoặc 0 cho kỹ năng cơ bản",
            )
            job = None
        elif group is not None and job != group.job:
            self.problem(
                item.line_of("job"),
                f"{where}.job",
                f"là {job}, nhưng nhóm “{group.id}” phục vụ nhiệm vụ {group.job}",
            )
        topics = self.reader.strings(self.path, item, "topics", where)
        if "topics" in item and isinstance(item.get("topics"), list) and not topics:
            self.problem(item.line_of("topics"), f"{where}.topics", "danh sách chủ đề đang trống")
        if len(set(topics)) != len(topics):
            self.problem(item.line_of("topics"), f"{where}.topics", "có chủ đề bị lặp lại")
        steps = self.steps(item, where)
        quiz = self.quiz(item, where)
        rule = self.rule(item, where)
        if sid is None or title is None or group is None or job is None:
            return None
        return Skill(
            id=sid,
            group=group.id,
            job=group.job,
            title=title,
            summary=summary or "",
            topics=tuple(dict.fromkeys(topics)),
            steps=steps,
            quiz=quiz,
            rule=rule,
            file=self.reader.rel(self.path),
            line=item.line,
            topics_line=item.line_of("topics"),
        )


def load_lessons(reader: Reader, groups: tuple[Group, ...]) -> Lessons:
    """Read every ``lessons/*.yaml``; problems go to ``reader``. A missing folder means none."""
    by_id = {g.id: g for g in groups}
    skills: list[Skill] = []
    origin: dict[str, str] = {}
    for path in reader.files("lessons/*.yaml"):
        for line, key in duplicate_keys(path):
            reader.problem(path, line, key, "khóa này được viết hai lần; chỉ giữ một lần")
        data = reader.load(path)
        if data is None:
            continue
        items = reader.sequence(path, data, "skills")
        if items is None:
            continue
        skill_reader = _SkillReader(reader, path)
        for index, item in enumerate(items):
            where = f"skills[{index + 1}]"
            if not isinstance(item, LineDict):
                reader.problem(path, items.line_of(index), where, "phải là bảng (id, title...)")
                continue
            skill = skill_reader.skill(item, where, by_id)
            if skill is None:
                continue
            if skill.id in origin:
                reader.problem(
                    path,
                    item.line_of("id"),
                    f"{where}.id",
                    f"trùng mã kỹ năng “{skill.id}”, đã có trong {origin[skill.id]}",
                )
                continue
            origin[skill.id] = f"{reader.rel(path)}:{item.line_of('id')}"
            skills.append(skill)
    return Lessons(tuple(skills))


class LinkedEntry(Protocol):
    """What the cross-check needs of a knowledge entry (see bot/content/knowledge.py)."""

    @property
    def id(self) -> str: ...

    @property
    def skill(self) -> str | None: ...

    @property
    def file(self) -> str: ...

    @property
    def line(self) -> int: ...


def check_links(reader: Reader, lessons: Lessons, entries: Iterable[LinkedEntry]) -> None:
    """Check that skills and knowledge entries point at each other.

    Every topic of a skill must be a knowledge entry, and that entry's ``skill`` must name a
    skill listing it (a topic shared by two skills points at one of them). Every entry's
    ``skill`` must be a lesson that lists the entry among its ``topics``.
    """
    by_id = {e.id: e for e in entries}
    for skill in lessons.skills:
        for topic in skill.topics:
            entry = by_id.get(topic)
            if entry is None:
                reader.problems.append(
                    Problem(
                        skill.file,
                        skill.topics_line or skill.line,
                        f"{skill.id}.topics",
                        f"chủ đề “{topic}” không có trong kho kiến thức (content/knowledge)",
                        kind="reference",
                    )
                )
            elif entry.skill is None:
                reader.problems.append(
                    Problem(
                        entry.file,
                        entry.line,
                        f"{entry.id}.skill",
                        f"thiếu “skill: {skill.id}”: bài học {skill.id} có chủ đề này "
                        f"({skill.file}:{skill.topics_line or skill.line})",
                    )
                )
    for entry in by_id.values():
        if entry.skill is None:
            continue
        target = lessons.get(entry.skill)
        if target is None:
            known = ", ".join(s.id for s in lessons.skills) or "(chưa có bài học nào)"
            message = f"bài học “{entry.skill}” không có trong content/lessons (có: {known})"
        elif entry.id not in target.topics:
            message = (
                f"bài học “{entry.skill}” không ghi chủ đề này trong topics "
                f"({target.file}:{target.topics_line or target.line})"
            )
        else:
            continue
        kind = "reference" if target is None else "field"
        reader.problems.append(Problem(entry.file, entry.line, f"{entry.id}.skill", message, kind))
