"""Architecture rules: handlers and the core never import platform code; texts live in content."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = ("telegram", "aiohttp")


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_handlers_and_core_never_import_platform_code() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for folder in ("handlers", "bot/core")
        for path in (ROOT / folder).rglob("*.py")
        for name in imports(path)
        if name in PLATFORM
    ]
    assert offenders == []


def test_importing_handlers_does_not_load_telegram() -> None:
    code = (
        "import sys, handlers, bot.core.dispatcher; handlers.all_routers(); "
        "print('telegram' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "False"


def test_every_message_key_used_in_code_exists() -> None:
    from bot.content.snapshot import load_snapshot

    messages = load_snapshot(ROOT / "content").messages
    pattern = re.compile(r"""(?:\bt|\bsay|\bbutton|messages)\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")
    missing = []
    for folder in ("handlers", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            for key in pattern.findall(path.read_text(encoding="utf-8")):
                if not messages.has(key):
                    missing.append(f"{path.relative_to(ROOT)}: {key}")
    assert missing == []


def test_handlers_hold_no_vietnamese_text() -> None:
    accented = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹáàãéèíìóòõúùýÁÀĐ]")
    offenders = []
    for path in (ROOT / "handlers").rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if '"""' in line or line.strip().startswith("#"):
                continue
            if accented.search(code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []
