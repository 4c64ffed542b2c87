"""Content validation admins can act on: the root error first, in Vietnamese, at its own line.

Also hostile content: a YAML alias bomb or a huge file is refused quickly with a clear message.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content.problems import ContentError, Problem
from bot.content.snapshot import load_snapshot

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def content(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(ROOT / "content", target)
    return target


def problems(content: Path) -> list[Problem]:
    with pytest.raises(ContentError) as info:
        load_snapshot(content)
    return info.value.problems


def test_a_missing_bracket_is_one_error_at_its_own_line_in_vietnamese(content: Path) -> None:
    path = content / "knowledge" / "basics.yaml"
    source = path.read_text("utf-8")
    line = next(i for i, s in enumerate(source.splitlines(), 1) if "related: [" in s)
    lines = source.splitlines()
    lines[line - 1] = lines[line - 1].rstrip().removesuffix("]")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    found = problems(content)
    assert len(found) == 1, "\n".join(map(str, found))  # no knock-on "unknown id" errors
    (problem,) = found
    assert problem.file == "content/knowledge/basics.yaml"
    assert problem.line == line
    assert "“]”" in problem.message and "expected" not in problem.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a:\n  b: [x, y\n\n  c: 1\n", ("“]”",)),
        ("a: {x: 1\nb: 2\n", ("“}”",)),
        ('a: "chưa đóng\nb: 2\n', ("dấu nháy",)),
        ("a: b: c\n", ("dấu “:”",)),
        ("a:\n\tb: 1\n", ("Tab",)),
        ("a:\n  b: 1\n c: 2\n", ("thụt lề",)),
    ],
)
def test_yaml_errors_are_explained_in_vietnamese(
    content: Path, text: str, words: tuple[str]
) -> None:
    (content / "messages" / "broken.yaml").write_text(text, "utf-8")
    found = problems(content)
    first = found[0]
    assert first.file == "content/messages/broken.yaml"
    assert first.kind == "syntax"
    assert first.line in (1, 2, 3)
    for word in words:
        assert word in first.message
    assert not any(english in first.message for english in ("expected", "found", "while"))


def test_root_errors_come_first_and_other_files_errors_stay(content: Path) -> None:
    lessons = content / "lessons" / "basics.yaml"
    text = lessons.read_text("utf-8")
    lessons.write_text(text.replace("  - id: ", "  - id: Bad Id\n    x: ", 1), "utf-8")
    (content / "knowledge" / "zz_broken.yaml").write_text("entries: [\n", "utf-8")
    found = problems(content)
    assert found[0].file == "content/knowledge/zz_broken.yaml"
    assert any(p.file == "content/lessons/basics.yaml" for p in found[1:])


def test_unknown_ids_are_still_reported_when_every_file_parses(content: Path) -> None:
    path = content / "knowledge" / "basics.yaml"
    text = path.read_text("utf-8")
    path.write_text(text.replace("related: [", "related: [no_such_entry, ", 1), "utf-8")
    found = problems(content)
    assert [p.kind for p in found] == ["reference"]
    assert "no_such_entry" in found[0].message
    assert "entries[1]" in found[0].field  # counted from 1, as admins count


BOMB = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    + ["entries: *i"]
)


@pytest.mark.parametrize("where", ["knowledge/bomb.yaml", "teencode.yaml", "lessons/bomb.yaml"])
def test_an_alias_bomb_is_refused_within_the_time_limit(content: Path, where: str) -> None:
    (content / where).write_text(BOMB + "\n", "utf-8")
    assert len(BOMB.splitlines()) == 10
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from bot.content.problems import ContentError\n"
        "from bot.content.snapshot import load_snapshot\n"
        "start = time.process_time()\n"
        "try:\n"
        "    load_snapshot(Path(sys.argv[1]))\n"
        "except ContentError as exc:\n"
        "    print(exc)\n"
        "print(time.process_time() - start)\n"
    )
    # In a child process with a deadline: a regression fails the test instead of stalling it.
    done = subprocess.run(
        [sys.executable, "-c", script, str(content)],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=ROOT,
        check=True,
    )
    # The bound for any content file, in CPU seconds (a busy machine stretches wall
    # time, not the work); the 270 s walk of the old code would blow both bounds.
    assert float(done.stdout.split()[-1]) <= 2.0
    assert f"content/{where}:1: YAML không hợp lệ: không dùng neo và bí danh YAML" in done.stdout


def test_a_huge_file_is_refused(content: Path) -> None:
    (content / "knowledge" / "huge.yaml").write_text("# x\n" * 700_000, "utf-8")
    found = problems(content)
    assert found[0].file == "content/knowledge/huge.yaml"
    assert "quá lớn" in found[0].message
