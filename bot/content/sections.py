"""Reading helpers shared by the content sections: typed fields with file:line problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.content.numbers import fill, load_numbers
from bot.content.problems import Problem
from bot.content.yamlio import LineDict, LineList, YamlError, load_yaml


class Reader:
    """Collects problems while reading the YAML files of one content directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []
        self.numbers: dict[str, str] = {}  # content/numbers.yaml, filled into texts as {name}
        if root.is_dir():
            load_numbers(self)

    def rel(self, path: Path) -> str:
        """The path as admins see it, relative to the content directory's parent."""
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def problem(self, path: Path, line: int | None, field: str, message: str) -> None:
        """Record a problem."""
        self.problems.append(Problem(self.rel(path), line, field, message))

    def reference(self, path: Path, line: int | None, field: str, message: str) -> None:
        """Record an id that names nothing (dropped when some file could not be read)."""
        self.problems.append(Problem(self.rel(path), line, field, message, kind="reference"))

    def load(self, path: Path) -> Any:
        """Parse a YAML file, recording a problem (and returning None) when it is broken."""
        try:
            return load_yaml(path)
        except YamlError as exc:
            self.problems.append(Problem(self.rel(path), exc.line, "", str(exc), kind="syntax"))
        except OSError as exc:
            message = f"không đọc được tệp ({exc.strerror})"
            self.problems.append(Problem(self.rel(path), None, "", message, kind="syntax"))
        return None

    def files(self, pattern: str) -> list[Path]:
        """The content files matching a glob, sorted, hidden files skipped."""
        return sorted(p for p in self.root.glob(pattern) if not p.name.startswith("."))

    def mapping(self, path: Path, data: Any, key: str) -> LineDict | None:
        """``data[key]`` when it is a mapping, else a problem."""
        if not isinstance(data, LineDict):
            self.problem(path, None, "", "tệp phải là một bảng khóa: giá trị (mapping)")
            return None
        value = data.get(key)
        if not isinstance(value, LineDict):
            self.problem(path, data.line_of(key), key, "thiếu, hoặc không phải bảng khóa: giá trị")
            return None
        return value

    def sequence(self, path: Path, data: Any, key: str) -> LineList | None:
        """``data[key]`` when it is a list, else a problem."""
        if not isinstance(data, LineDict):
            self.problem(path, None, "", "tệp phải là một bảng khóa: giá trị (mapping)")
            return None
        value = data.get(key)
        if not isinstance(value, LineList):
            self.problem(path, data.line_of(key), key, "thiếu, hoặc không phải danh sách")
            return None
        return value

    def text(
        self,
        path: Path,
        item: LineDict,
        key: str,
        where: str,
        *,
        required: bool = True,
        max_len: int | None = None,
    ) -> str | None:
        """A non-empty string field, checked for length."""
        value = item.get(key)
        if value is None:
            if required:
                self.problem(path, item.line, f"{where}.{key}", "thiếu trường bắt buộc")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(path, item.line_of(key), f"{where}.{key}", "phải là một đoạn chữ")
            return None
        value = value.strip()
        if self.numbers and "{" in value:
            value = fill(value, self.numbers)
        if max_len is not None and len(value) > max_len:
            self.problem(
                path,
                item.line_of(key),
                f"{where}.{key}",
                f"dài {len(value)} ký tự, quá giới hạn {max_len} ký tự",
            )
        return value

    def strings(self, path: Path, item: LineDict, key: str, where: str) -> list[str]:
        """An optional list of non-empty strings."""
        value = item.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, item.line_of(key), f"{where}.{key}", "phải là một danh sách")
            return []
        out: list[str] = []
        for index, element in enumerate(value):
            if isinstance(element, (str, int, float)) and str(element).strip():
                out.append(str(element).strip())
            else:
                line = value.line_of(index) if isinstance(value, LineList) else item.line_of(key)
                self.problem(path, line, f"{where}.{key}[{index + 1}]", "phải là một đoạn chữ")
        return out
