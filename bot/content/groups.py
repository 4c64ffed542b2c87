"""Skill groups (``content/groups.yaml``): the catalog's groups and the job each one serves."""

from __future__ import annotations

from dataclasses import dataclass

from bot.content.sections import Reader
from bot.content.yamlio import LineDict


@dataclass(frozen=True)
class Group:
    """A group of topics and skills; ``job`` is 1-5 (the teams' five jobs) or 0 for basics."""

    id: str
    title: str
    job: int


def load_groups(reader: Reader) -> tuple[Group, ...]:
    """Read ``groups.yaml``."""
    path = reader.root / "groups.yaml"
    data = reader.load(path)
    items = reader.sequence(path, data, "groups") if data is not None else None
    groups: list[Group] = []
    seen: set[str] = set()
    for index, item in enumerate(items or []):
        where = f"groups[{index + 1}]"
        if not isinstance(item, LineDict):
            reader.problem(path, items.line_of(index) if items else None, where, "phải là bảng")
            continue
        gid = reader.text(path, item, "id", where)
        title = reader.text(path, item, "title", where)
        job = item.get("job")
        if job is not None and (not isinstance(job, int) or not 1 <= job <= 5):
            reader.problem(path, item.line_of("job"), f"{where}.job", "phải là số từ 1 đến 5")
            job = None
        if gid in seen:
            reader.problem(path, item.line_of("id"), f"{where}.id", f"trùng mã nhóm “{gid}”")
        if gid and title:
            seen.add(gid)
            groups.append(Group(id=gid, title=title, job=job or 0))
    return tuple(groups)
