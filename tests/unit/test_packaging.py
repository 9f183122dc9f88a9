"""Packaging: every imported distribution is declared, constraints/lowest.txt pins the declared lower bounds, and
`flask --app plugin` finds the app."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The packages shipped in the wheel: what they import must be a runtime dependency.
RUNTIME_TREES = ("fhir_mappings", "smart_launch", "plugin", "sandbox")
# Code that is not shipped: what it imports may also come from the `test` extra.
DEV_TREES = ("tools", "bench", "tests")
LOWEST = ROOT / "constraints" / "lowest.txt"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_LOWER = re.compile(r">=\s*([0-9][^,;\s]*)")


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> tuple[list[str], list[str]]:
    """The runtime requirements and the `test` extra of pyproject.toml, as written."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"]), list(project["optional-dependencies"]["test"])


def name_and_lower_bound(requirement: str) -> tuple[str, str | None]:
    name = _NAME.match(requirement)
    assert name is not None, requirement
    lower = _LOWER.search(requirement)
    return normalize(name.group(1)), lower.group(1) if lower else None


def python_files(tree: str) -> list[Path]:
    return sorted(p for p in (ROOT / tree).rglob("*.py") if ".venv" not in p.parts)


def imported_top_level(files: list[Path]) -> dict[str, set[str]]:
    """Top-level module name -> the files (relative) that import it, absolute imports only."""
    found: dict[str, set[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def project_modules() -> set[str]:
    """Names that resolve inside this checkout: the top-level trees and every module beside a test (conftest-style
    helpers such as smart_fakes, imported through the rootdir-relative sys.path)."""
    names = set(RUNTIME_TREES + DEV_TREES)
    for tree in RUNTIME_TREES + DEV_TREES:
        names.update(p.stem for p in python_files(tree))
    return names


def undeclared(trees: tuple[str, ...], allowed: set[str]) -> list[str]:
    local = project_modules()
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for module, where in sorted(imported_top_level([f for t in trees for f in python_files(t)]).items()):
        if module in sys.stdlib_module_names or module in local or module == "__future__":
            continue
        provided_by = {normalize(d) for d in distributions.get(module, [])}
        if not provided_by:
            problems.append(f"{module}: no installed distribution provides it (imported in {sorted(where)[0]})")
        elif not provided_by & allowed:
            problems.append(f"{module} (from {sorted(provided_by)}) is not declared (imported in {sorted(where)[0]})")
    return problems


def test_every_import_of_the_shipped_packages_is_a_runtime_dependency() -> None:
    runtime, _ = declared()
    allowed = {name_and_lower_bound(r)[0] for r in runtime}
    assert undeclared(RUNTIME_TREES, allowed) == []


def test_every_import_of_tests_tools_and_bench_is_declared() -> None:
    runtime, test = declared()
    allowed = {name_and_lower_bound(r)[0] for r in runtime + test}
    assert undeclared(DEV_TREES, allowed) == []


def test_the_scan_sees_third_party_imports() -> None:
    # Guards the two tests above against passing because the scan finds nothing.
    imported = imported_top_level(python_files("smart_launch") + python_files("plugin"))
    assert {"joserfc", "wtforms", "babel", "flask"} <= set(imported)


def test_every_requirement_has_a_lower_bound_and_lowest_txt_pins_exactly_those() -> None:
    runtime, test = declared()
    bounds = dict(name_and_lower_bound(r) for r in runtime + test)
    assert [name for name, lower in bounds.items() if lower is None] == []
    pinned: dict[str, str] = {}
    for line in LOWEST.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][^\s]*)", line)
        assert match is not None, f"constraints/lowest.txt: not a `name==version` pin: {line!r}"
        assert normalize(match.group(1)) not in pinned, f"pinned twice: {line!r}"
        pinned[normalize(match.group(1))] = match.group(2)
    assert pinned == bounds


@pytest.fixture
def app_config(tmp_path: Path) -> Path:
    config = tmp_path / "resourcegroep.toml"
    config.write_text(
        f"""
[app]
public_base_url = "http://127.0.0.1:8000"
secret_key = "packaging-test-{"x" * 40}"
session_cookie_secure = false
session_cookie_samesite = "Lax"
session_db = "{tmp_path / "sessions.sqlite3"}"
outbox_db = "{tmp_path / "outbox.sqlite3"}"

[[ehr]]
name = "demo-epd"
iss = "https://epd.example.org/fhir"
client_id = "resourcegroep"
client_auth = "client_secret_basic"
client_secret = "packaging-test"
"""
    )
    return config


def test_flask_app_plugin_finds_the_app(app_config: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESOURCEGROEP_", "FLASK_"))}
    env["RESOURCEGROEP_CONFIG"] = str(app_config)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "plugin", "routes"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rules = {line.split()[-1] for line in result.stdout.splitlines() if line.strip()}
    assert {"/launch", "/callback", "/.well-known/jwks.json"} <= rules
