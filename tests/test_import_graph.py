"""No import cycle in ``bot/``, ``handlers/`` or ``storage/``, and channels stay behind the port.

The graph is read from the source with ``ast``, not by importing: every ``import`` and
``from ... import`` counts, at module level, inside functions (imports deferred to dodge a
cycle still couple the two modules) and under ``if TYPE_CHECKING:`` (a type-only import still
means the two modules know each other; mypy follows it). A name imported from a package counts
as an import of the submodule when one of that name exists, else of the package's
``__init__``. Parent packages are not implicit edges: ``import a.b`` runs ``a/__init__`` but
does not make ``a`` depend on ``b``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage")


def modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imported(name: str, path: Path, node: ast.AST) -> Iterator[str]:
    """Dotted names an import statement asks for (``from x import y`` yields ``x.y`` and ``x``)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            base = package[: len(package) - node.level + 1]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        for alias in node.names:
            yield f"{target}.{alias.name}"
        yield target


def graph() -> dict[str, set[str]]:
    """Each module's imports among the packages' modules."""
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            wanted = list(_imported(name, path, node))
            if isinstance(node, ast.ImportFrom):
                names, package = wanted[:-1], wanted[-1]
                hits = [w for w in names if w in known]
                if len(hits) < len(names) and package in known:
                    hits.append(package)
                targets.update(hits)
            else:
                for dotted in wanted:
                    while dotted and dotted not in known:
                        dotted = dotted.rpartition(".")[0]
                    if dotted:
                        targets.add(dotted)
        targets.discard(name)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_real_imports() -> None:
    edges = graph()
    assert "bot.core.ports" in edges["bot.core.dispatcher"]  # under TYPE_CHECKING
    assert "bot.core.events" in edges["bot.core.dispatcher"]  # from x import name
    assert "bot.core.files" in edges["bot.core.gateway"]  # from package import module
    assert "handlers.answers" in edges["handlers"]  # inside a function


def test_no_import_cycle() -> None:
    found = cycles(graph())
    assert found == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_a_cycle_would_be_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_channels_depend_on_the_port_not_on_the_core_inside() -> None:
    """Channel adapters use ``bot.core.ports``, never the dispatcher, services or repositories."""
    edges = graph()
    forbidden = ("bot.core.dispatcher", "bot.core.services", "bot.core.delivery", "storage.repos")
    for name, targets in edges.items():
        if not name.startswith("bot.channels"):
            continue
        bad = sorted(t for t in targets if t.startswith(forbidden))
        assert bad == [], f"{name} imports {bad}"


# Which features may use which repository; users are everyone's. Other features reach a
# feature's data through that feature's functions (e.g. handlers.scope for teams,
# handlers.answers.logged_question for the question log). Erasing a user's data (privacy)
# touches everything by law.
REPOSITORY_USERS = {
    "storage.repos.answers": {"handlers.answers"},
    "storage.repos.lessons": {
        "handlers.lesson_steps",
        "handlers.lessons",
        "handlers.progress",
        "handlers.certificates",  # the five basic skills passed
    },
    "storage.repos.certificates": {"handlers.certificates"},
    "storage.repos.teams": {
        "handlers.teams",
        "handlers.scope",
        "handlers.team_tools",
        "handlers.team_questions",
    },
    "storage.repos.broadcasts": {"handlers.broadcasts"},
    "storage.repos.nudges": {"handlers.nudges"},
    "storage.repos.followup": {"handlers.citizen_card", "handlers.team_questions"},
    "storage.repos.threads": {"handlers.threads", "handlers.team_questions"},
    "storage.repos.zalo_oa": {"handlers.teams", "handlers.team_tools"},  # an OA's villages
    "storage.repos.dashboard": {"handlers.dashboard_link"},
    "storage.repos.users": None,  # anyone
}
EVERYTHING = {"handlers.privacy"}


def test_handlers_use_only_the_repositories_of_their_feature() -> None:
    edges = graph()
    for name, targets in edges.items():
        if not name.startswith("handlers") or name in EVERYTHING:
            continue
        for target in sorted(t for t in targets if t.startswith("storage.repos")):
            assert target in REPOSITORY_USERS, f"{name} imports {target}"
            allowed = REPOSITORY_USERS[target]
            assert allowed is None or name in allowed, f"{name} imports {target}"
