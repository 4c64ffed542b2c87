"""YAML reading that remembers line numbers, so every content error can name file and line.

Content files are plain data: anchors and aliases (``&a`` / ``*a``, and ``<<`` merges that use
them) are refused, so a small hostile file cannot make loading or validation walk an exponential
graph (the "billion laughs" alias bomb). Files larger than ``MAX_BYTES`` are refused too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_BYTES = 2 * 1024 * 1024  # the largest content file; ours are well under 100 KB
ALIASES_REFUSED = (
    "không dùng neo và bí danh YAML (&tên, *tên) trong tệp nội dung; hãy viết thẳng giá trị"
)
_FAST_COMPOSER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed


class LineDict(dict[str, Any]):
    """A mapping from YAML that knows its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """The line of ``key``, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence from YAML that knows its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        """The line of item ``index``."""
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings and sequences carry line numbers, refusing aliases."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        """Compose one node; an anchor or an alias is an error at its own line."""
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent) or (
            isinstance(event, NodeEvent) and event.anchor is not None
        ):
            raise yaml.composer.ComposerError(None, None, ALIASES_REFUSED, event.start_mark)  # type: ignore[arg-type]
        return super().compose_node(parent, index)


def _construct_mapping(loader: _LineLoader, node: MappingNode) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = value_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)

_FAST_LOADER: Any = None
if getattr(yaml, "__with_libyaml__", False):
    from yaml.cyaml import CParser  # type: ignore[attr-defined]

    class _FastLineLoader(
        CParser,
        yaml.constructor.SafeConstructor,
        yaml.resolver.Resolver,
    ):
        """The same loader on libyaml's parser and composer (several times faster)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    _FastLineLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
    )
    _FastLineLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence
    )
    _FAST_LOADER = _FastLineLoader


def _fast_load(text: str) -> tuple[Any] | None:
    """``(data,)`` for a well-formed file without anchors, through libyaml; None when the
    pure-Python loader must decide (anchors, errors, no libyaml), so its messages stay the same."""
    if _FAST_LOADER is None:
        return None
    try:
        for event in yaml.parse(text, Loader=_FAST_COMPOSER):
            if isinstance(event, AliasEvent) or (
                isinstance(event, NodeEvent) and event.anchor is not None
            ):
                return None  # refused by the pure-Python loader, at its own line
        return (yaml.load(text, Loader=_FAST_LOADER),)
    except yaml.YAMLError:
        return None  # the pure-Python loader words the error


class YamlError(Exception):
    """A file that is not valid YAML; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def read_text(path: Path) -> str:
    """A content file's text; too large or not UTF-8 is a YamlError."""
    if path.stat().st_size > MAX_BYTES:
        raise YamlError(f"tệp quá lớn (tối đa {MAX_BYTES // (1024 * 1024)} MB)", None)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"tệp không phải UTF-8 ({exc.reason})", None) from exc


def load_yaml(path: Path) -> Any:
    """Parse one YAML file into plain data whose dicts and lists know their lines."""
    text = read_text(path)
    fast = _fast_load(text)
    if fast is not None:
        return fast[0]
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        message, line = explain(exc)
        raise YamlError(f"YAML không hợp lệ: {message}", line) from exc
    except yaml.YAMLError as exc:
        raise YamlError("YAML không hợp lệ", None) from exc


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def explain(exc: yaml.MarkedYAMLError) -> tuple[str, int | None]:
    """A YAML syntax error in plain Vietnamese, at the line where the admin has to look.

    An unclosed ``[`` or ``{`` or quote is reported where it was opened: PyYAML notices it
    only lines later, at the next key.
    """
    problem = exc.problem or ""
    context = exc.context or ""
    opened, found = _line(exc.context_mark), _line(exc.problem_mark)
    if "flow sequence" in context and opened:
        return "thiếu “]” đóng danh sách mở bằng “[” ở dòng này", opened
    if "flow mapping" in context and opened:
        return "thiếu “}” đóng bảng mở bằng “{” ở dòng này", opened
    if "quoted scalar" in context and opened:
        return "thiếu dấu nháy đóng đoạn chữ mở ở dòng này", opened
    if problem == ALIASES_REFUSED:
        return problem, found
    if "mapping values are not allowed" in problem:
        return (
            "dấu “:” không đặt được ở đây; nếu giá trị có dấu hai chấm, "
            "hãy đặt cả giá trị trong ngoặc kép",
            found,
        )
    if "\\t" in problem or "\t" in problem:
        return "YAML không cho thụt lề bằng phím Tab; hãy dùng dấu cách", found
    if "could not find expected ':'" in problem:
        return "thiếu dấu “:” sau tên khóa (hoặc dòng trên thụt lề sai)", opened or found
    if "expected <block end>" in problem:
        return (
            "thụt lề không khớp hoặc có ký tự thừa (các khóa cùng cấp phải thẳng hàng, "
            "cùng số dấu cách)",
            found,
        )
    return "cú pháp YAML sai ở đây", found or opened


def duplicate_keys(path: Path) -> list[tuple[int, str]]:
    """Keys written twice in the same mapping (YAML keeps only the last one silently)."""
    try:
        # libyaml's composer when present (this is a second pass over every file; the normal
        # loader, which refuses aliases, reports syntax errors), else the pure-Python one.
        node = yaml.compose(read_text(path), Loader=_FAST_COMPOSER)
    except (OSError, YamlError, yaml.YAMLError):
        return []  # the normal loader reports these
    found: list[tuple[int, str]] = []
    stack = [node] if node is not None else []
    visited: set[int] = set()
    while stack:  # aliases share nodes: each one is walked once
        current = stack.pop()
        if id(current) in visited:
            continue
        visited.add(id(current))
        if isinstance(current, MappingNode):
            seen: set[str] = set()
            for key_node, value_node in current.value:
                key = str(key_node.value)
                if key in seen:
                    found.append((key_node.start_mark.line + 1, key))
                seen.add(key)
                stack.append(value_node)
        elif isinstance(current, SequenceNode):
            stack.extend(current.value)
    return sorted(found)
