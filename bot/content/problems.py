"""What is wrong with content: file, line, field and a plain-words message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One content error, shown to admins as ``file:line: field: message``."""

    file: str
    line: int | None
    field: str
    message: str
    kind: str = "field"  # "syntax": the file could not be read; "reference": an unknown id

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


def ordered(problems: list[Problem]) -> list[Problem]:
    """Root errors first; when a file could not be read, no unknown-id errors.

    A file that fails to parse defines nothing, so every id it defines looks unknown elsewhere
    (one missing ``]`` gave 38 such knock-on errors): they are dropped, and come back on the
    next check only if they are real.
    """
    syntax = [p for p in problems if p.kind == "syntax"]
    rest = [p for p in problems if p.kind != "syntax" and not (syntax and p.kind == "reference")]
    return syntax + rest


class ContentError(Exception):
    """Content that failed validation; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
