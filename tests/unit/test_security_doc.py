"""docs/security.md names, for each threat, the test that proves it is met: every test it names must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name.startswith("test")}


def test_every_test_the_security_page_names_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    files = {Path(m).name: ROOT / m for m in re.findall(r"`(tests/[\w/]+\.py)", text)}
    for found in (ROOT / "tests").rglob("test_*.py"):
        files.setdefault(found.name, found)
    missing: list[str] = []
    named = re.findall(r"`(?:tests/[\w/]+/)?(test_\w+\.py)(?:::(\w+))?`|`::(\w+)`", text)
    last_file = ""
    for file_name, test_name, bare in named:
        if file_name:
            last_file = file_name
            path = files.get(file_name)
            if path is None or not path.exists():
                missing.append(file_name)
                continue
        name = test_name or bare
        if name and not (name.endswith("*") or name in _tests_in(files[last_file])):
            missing.append(f"{last_file}::{name}")
    assert len(named) > 20
    assert missing == []
