"""Knowledge entries (``content/knowledge/*.yaml``): what the bot answers, checked field by field.

Every file has a top-level ``entries`` list; each entry has a stable ``id``, a ``group`` from
``groups.yaml``, a ``title``, example ``questions`` (at least six), optional ``keywords``, the
short ``answer`` (one phone screen: at most 400 characters, light ``**bold**`` markup), optional
``details`` (the numbered steps shown on "Xem từng bước", at most 2,000 characters, Zalo's limit),
optional ``links``, ``image``, ``related`` entry ids and the ``skill`` (lesson) it leads to.
Problems name the file, the line and the field, in plain Vietnamese, so admins can fix them
without reading code.
Whether ``skill`` names a real lesson is checked by the snapshot once the lessons are loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.content.numbers import unknown
from bot.content.sections import Reader
from bot.content.yamlio import LineDict, LineList, duplicate_keys
from bot.core.text import fold

MAX_ANSWER = 400  # one phone screen: about 8 lines of 35 characters
MAX_DETAILS = 2000  # Zalo's limit for one message
MAX_TITLE = 120
MAX_QUESTION = 300
MIN_QUESTIONS = 6
MAX_LINKS = 5
MAX_RELATED = 5

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
KNOWN_FIELDS = frozenset(
    {
        "id",
        "group",
        "title",
        "questions",
        "keywords",
        "answer",
        "details",
        "links",
        "image",
        "related",
        "skill",
    }
)
_BOLD_MARKS = re.compile(r"\*\*")
_HTML = re.compile(r"</?[a-zA-Z][^>]*>")


@dataclass(frozen=True)
class Link:
    """A link shown under an answer."""

    title: str
    url: str


@dataclass(frozen=True)
class Entry:
    """One knowledge entry; ``file`` and ``line`` say where it was written."""

    id: str
    group: str
    title: str
    questions: tuple[str, ...]
    answer: str
    details: str | None = None
    keywords: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    image: str | None = None
    related: tuple[str, ...] = ()
    skill: str | None = None
    file: str = ""
    line: int = 0


def _links(reader: Reader, path: Path, item: LineDict, where: str) -> tuple[Link, ...]:
    value = item.get("links")
    if value is None:
        return ()
    if not isinstance(value, LineList):
        reader.problem(path, item.line_of("links"), f"{where}.links", "phải là một danh sách")
        return ()
    if len(value) > MAX_LINKS:
        reader.problem(
            path, item.line_of("links"), f"{where}.links", f"nhiều nhất {MAX_LINKS} đường link"
        )
    links: list[Link] = []
    for index, link in enumerate(value):
        at = f"{where}.links[{index + 1}]"
        if not isinstance(link, LineDict):
            reader.problem(path, value.line_of(index), at, "phải có title và url")
            continue
        title = reader.text(path, link, "title", at, max_len=80)
        url = reader.text(path, link, "url", at, max_len=500)
        if url is not None and (not url.startswith("https://") or " " in url):
            reader.problem(
                path, link.line_of("url"), f"{at}.url", "phải là địa chỉ bắt đầu bằng https://"
            )
            continue
        if title and url:
            links.append(Link(title=title, url=url))
    return tuple(links)


def _ids(reader: Reader, path: Path, item: LineDict, key: str, where: str) -> tuple[str, ...]:
    values = reader.strings(path, item, key, where)
    out: list[str] = []
    for value in values:
        if not ID_PATTERN.match(value):
            reader.problem(
                path, item.line_of(key), f"{where}.{key}", f"“{value}” không phải là một mã hợp lệ"
            )
        elif value not in out:
            out.append(value)
    return tuple(out)


def _answer(
    reader: Reader, path: Path, item: LineDict, where: str, key: str = "answer"
) -> str | None:
    """The short ``answer`` (required) or the ``details`` steps (optional), markup checked."""
    required = key == "answer"
    limit = MAX_ANSWER if required else MAX_DETAILS
    text = reader.text(path, item, key, where, required=required)
    if text is None:
        return None
    line = item.line_of(key)
    if len(text) > limit:
        hint = (
            "; chỉ giữ việc cần làm trước và một lời cảnh báo, chuyển các bước sang details"
            if required
            else ""
        )
        reader.problem(
            path,
            line,
            f"{where}.{key}",
            f"dài {len(text)} ký tự, quá giới hạn {limit} ký tự{hint}",
        )
    if len(_BOLD_MARKS.findall(text)) % 2:
        reader.problem(
            path, line, f"{where}.{key}", "dấu ** để in đậm phải đi theo cặp (mở và đóng)"
        )
    if _HTML.search(text):
        reader.problem(path, line, f"{where}.{key}", "không dùng thẻ HTML; chỉ dùng **in đậm**")
    for name in unknown(text):
        reader.problem(
            path, line, f"{where}.{key}", f"không có số nào tên “{name}” trong numbers.yaml"
        )
    return text


def _image(reader: Reader, path: Path, item: LineDict, where: str) -> str | None:
    image = reader.text(path, item, "image", where, required=False, max_len=500)
    if image is None:
        return None
    if image.startswith(("https://", "http://")):
        return image
    target = (reader.root / image).resolve()
    if not target.is_relative_to(reader.root.resolve()) or not target.is_file():
        reader.problem(
            path,
            item.line_of("image"),
            f"{where}.image",
            f"không tìm thấy tệp ảnh “{image}” trong thư mục nội dung",
        )
        return None
    return image


def _entry(
    reader: Reader, path: Path, item: LineDict, where: str, groups: set[str]
) -> tuple[Entry, list[tuple[str, int]]] | None:
    for key in item:
        if key not in KNOWN_FIELDS:
            reader.problem(
                path,
                item.line_of(key),
                f"{where}.{key}",
                "trường lạ (các trường dùng được: " + ", ".join(sorted(KNOWN_FIELDS)) + ")",
            )
    entry_id = reader.text(path, item, "id", where, max_len=64)
    if entry_id is not None:
        where = f"{where} ({entry_id})"
        if not ID_PATTERN.match(entry_id):
            reader.problem(
                path,
                item.line_of("id"),
                f"{where}.id",
                "mã chỉ gồm chữ thường không dấu, số và dấu gạch dưới, bắt đầu bằng chữ",
            )
    group = reader.text(path, item, "group", where, max_len=64)
    if group is not None and group not in groups:
        known = ", ".join(sorted(groups)) or "(chưa có nhóm nào)"
        reader.reference(
            path,
            item.line_of("group"),
            f"{where}.group",
            f"nhóm “{group}” không có trong groups.yaml (các nhóm: {known})",
        )
    title = reader.text(path, item, "title", where, max_len=MAX_TITLE)
    question_lines = _questions(reader, path, item, where)
    keywords = reader.strings(path, item, "keywords", where)
    answer = _answer(reader, path, item, where)
    details = _answer(reader, path, item, where, "details")
    links = _links(reader, path, item, where)
    image = _image(reader, path, item, where)
    related = _ids(reader, path, item, "related", where)
    if len(related) > MAX_RELATED:
        reader.problem(
            path,
            item.line_of("related"),
            f"{where}.related",
            f"nhiều nhất {MAX_RELATED} mục liên quan (chỉ hiện được vài nút)",
        )
    skill = reader.text(path, item, "skill", where, required=False, max_len=64)
    if None in (entry_id, group, title, answer) or group not in groups:
        return None
    assert entry_id is not None and group is not None and title is not None
    assert answer is not None
    entry = Entry(
        id=entry_id,
        group=group,
        title=title,
        questions=tuple(q for q, _ in question_lines),
        answer=answer,
        details=details,
        keywords=tuple(keywords),
        links=links,
        image=image,
        related=related,
        skill=skill,
        file=reader.rel(path),
        line=item.line,
    )
    return entry, question_lines


def _questions(reader: Reader, path: Path, item: LineDict, where: str) -> list[tuple[str, int]]:
    """The example questions with their lines; repeated ones are reported once and dropped."""
    value = item.get("questions")
    if value is None:
        reader.problem(path, item.line, f"{where}.questions", "thiếu các câu hỏi mẫu")
        return []
    questions = reader.strings(path, item, "questions", where)
    if len(questions) < MIN_QUESTIONS:
        reader.problem(
            path,
            item.line_of("questions"),
            f"{where}.questions",
            f"cần ít nhất {MIN_QUESTIONS} câu hỏi mẫu, mới có {len(questions)}",
        )
    seen: set[str] = set()
    out: list[tuple[str, int]] = []
    for index, question in enumerate(questions):
        line = value.line_of(index) if isinstance(value, LineList) else item.line_of("questions")
        key = fold(question)
        if len(question) > MAX_QUESTION:
            reader.problem(
                path,
                line,
                f"{where}.questions[{index + 1}]",
                f"câu hỏi mẫu dài quá {MAX_QUESTION} ký tự",
            )
        if not key:
            reader.problem(path, line, f"{where}.questions[{index + 1}]", "câu hỏi không có chữ")
            continue
        if key in seen:
            reader.problem(
                path, line, f"{where}.questions[{index + 1}]", "câu hỏi này bị lặp lại trong mục"
            )
            continue
        seen.add(key)
        out.append((question, line))
    return out


def load_knowledge(reader: Reader, groups: Iterable[str]) -> tuple[Entry, ...]:  # noqa: C901
    """Read every ``knowledge/*.yaml``, then check ids across files."""
    group_ids = set(groups)
    entries: list[Entry] = []
    where_defined: dict[str, str] = {}
    question_owner: dict[str, tuple[str, str]] = {}
    files = reader.files("knowledge/*.yaml")
    if not files:
        reader.problem(reader.root / "knowledge", None, "", "không có tệp kiến thức nào (*.yaml)")
    entry_lines: dict[str, tuple[Path, LineDict, str]] = {}
    for path in files:
        for twice_line, key in duplicate_keys(path):
            reader.problem(path, twice_line, key, "khóa này được viết hai lần; chỉ giữ một lần")
        data = reader.load(path)
        if data is None:
            continue
        items = reader.sequence(path, data, "entries")
        for index, item in enumerate(items or []):
            where = f"entries[{index + 1}]"
            if not isinstance(item, LineDict):
                line = items.line_of(index) if items is not None else None
                reader.problem(path, line, where, "mỗi mục phải là một bảng khóa: giá trị")
                continue
            found = _entry(reader, path, item, where, group_ids)
            if found is None:
                # Broken, but its id still exists: don't report it again as "unknown" elsewhere.
                raw_id = item.get("id")
                if isinstance(raw_id, str) and raw_id.strip() not in where_defined:
                    where_defined[raw_id.strip()] = f"{reader.rel(path)}:{item.line}"
                continue
            entry, question_lines = found
            if entry.id in where_defined:
                reader.problem(
                    path,
                    item.line_of("id"),
                    f"{where}.id",
                    f"trùng mã “{entry.id}”, đã có ở {where_defined[entry.id]}",
                )
                continue
            where_defined[entry.id] = f"{entry.file}:{entry.line}"
            entry_lines[entry.id] = (path, item, f"{where} ({entry.id})")
            for qi, (question, qline) in enumerate(question_lines):
                key = fold(question)
                owner = question_owner.get(key)
                if owner is not None and owner[0] != entry.id:
                    reader.problem(
                        path,
                        qline,
                        f"{where} ({entry.id}).questions[{qi + 1}]",
                        f"câu hỏi mẫu trùng với mục “{owner[0]}” ({owner[1]}); "
                        "bot sẽ không biết chọn mục nào",
                    )
                else:
                    question_owner[key] = (entry.id, f"{entry.file}:{entry.line}")
            entries.append(entry)
    for entry in entries:
        path, item, where = entry_lines[entry.id]
        for related in entry.related:
            if related == entry.id:
                reader.problem(
                    path, item.line_of("related"), f"{where}.related", "mục không tự liên quan"
                )
            elif related not in where_defined:
                reader.reference(
                    path,
                    item.line_of("related"),
                    f"{where}.related",
                    f"không có mục nào mang mã “{related}”",
                )
    return tuple(entries)


OUTSIDE_FILE = "out_of_scope.yaml"
MIN_OUTSIDE_QUESTIONS = 3


@dataclass(frozen=True)
class OutOfScope:
    """A topic the bot does not answer (``content/out_of_scope.yaml``), with example questions."""

    id: str
    title: str
    questions: tuple[str, ...]


def load_out_of_scope(reader: Reader, entries: Iterable[Entry]) -> tuple[OutOfScope, ...]:  # noqa: C901
    """Read the optional ``out_of_scope.yaml``; a question also asked by an entry is a problem."""
    path = reader.root / OUTSIDE_FILE
    if not path.exists():
        return ()
    for twice_line, key in duplicate_keys(path):
        reader.problem(path, twice_line, key, "khóa này được viết hai lần; chỉ giữ một lần")
    data = reader.load(path)
    if data is None:
        return ()
    items = reader.sequence(path, data, "topics")
    owners = {fold(q): e.id for e in entries for q in e.questions}
    topics: list[OutOfScope] = []
    seen: set[str] = set()
    for index, item in enumerate(items or []):
        where = f"topics[{index + 1}]"
        if not isinstance(item, LineDict):
            line = items.line_of(index) if items is not None else None
            reader.problem(path, line, where, "mỗi chủ đề phải là một bảng khóa: giá trị")
            continue
        for key in item:
            if key not in ("id", "title", "questions"):
                reader.problem(
                    path,
                    item.line_of(key),
                    f"{where}.{key}",
                    "trường lạ (dùng id, title, questions)",
                )
        topic_id = reader.text(path, item, "id", where, max_len=64)
        title = reader.text(path, item, "title", where, max_len=MAX_TITLE)
        if topic_id is not None and not ID_PATTERN.match(topic_id):
            reader.problem(
                path, item.line_of("id"), f"{where}.id", "mã chỉ gồm chữ thường không dấu, số, _"
            )
        if topic_id in seen:
            reader.problem(path, item.line_of("id"), f"{where}.id", f"trùng mã “{topic_id}”")
        questions = reader.strings(path, item, "questions", where)
        if len(questions) < MIN_OUTSIDE_QUESTIONS:
            reader.problem(
                path,
                item.line_of("questions"),
                f"{where}.questions",
                f"cần ít nhất {MIN_OUTSIDE_QUESTIONS} câu hỏi mẫu, mới có {len(questions)}",
            )
        raw = item.get("questions")
        for qi, question in enumerate(questions):
            owner = owners.get(fold(question))
            if owner is not None:
                line = raw.line_of(qi) if isinstance(raw, LineList) else item.line
                reader.problem(
                    path,
                    line,
                    f"{where}.questions[{qi + 1}]",
                    f"câu này là câu hỏi mẫu của mục “{owner}”; để ở đây sẽ che mất câu trả lời",
                )
        if topic_id and title and topic_id not in seen:
            seen.add(topic_id)
            topics.append(OutOfScope(id=topic_id, title=title, questions=tuple(questions)))
    return tuple(topics)
