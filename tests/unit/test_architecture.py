"""The shape of the code (docs/architecture.md in ../shared): the pure mapping layer does no I/O and knows nothing
of the app, the SMART client knows nothing of views, and no package imports itself round in a circle.

Imports are read from the source (`ast`), not by importing: a module-level import counts for cycles (one inside a
function, or under `TYPE_CHECKING`, runs late and breaks none); every import counts for the layers.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("fhir_mappings", "smart_launch", "plugin")

# What each layer may not import (top-level names), anywhere in its modules.
FORBIDDEN: dict[str, frozenset[str]] = {
    # Pure: domain model <-> FHIR R4. No network, files, databases or web framework; nothing of the layers above.
    "fhir_mappings": frozenset(
        {
            "requests",
            "urllib3",
            "http",
            "socket",
            "ssl",
            "sqlite3",
            "redis",
            "subprocess",
            "shutil",
            "tempfile",
            "pathlib",
            "flask",
            "werkzeug",
            "jinja2",
            "wtforms",
            "flask_wtf",
            "flask_babel",
            "plugin",
            "smart_launch",
            "sandbox",
        }
    ),
    # The SMART App Launch and Backend Services client: HTTP and its own stores, no views or app.
    "smart_launch": frozenset(
        {"flask", "werkzeug", "jinja2", "wtforms", "flask_wtf", "flask_babel", "plugin", "sandbox"}
    ),
    "plugin": frozenset({"sandbox", "tests", "bench"}),
}


@dataclass(frozen=True)
class Imports:
    """The imports of one module: by module level (for cycles) and all of them (for the layers)."""

    module_level: frozenset[str]
    anywhere: frozenset[str]
    opens_files: bool  # calls the builtin `open`


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of `packages` under `root`."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: dict[str, Path]) -> Imports:
    """The modules `name` (at `path`) imports, relative imports resolved; `from a import b` names `a.b` when that
    is a module of its own."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    module_level: set[str] = set()
    anywhere: set[str] = set()

    def targets(node: ast.Import | ast.ImportFrom) -> set[str]:
        if isinstance(node, ast.Import):
            return {alias.name for alias in node.names}
        if node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        return {source} | {f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in known}

    def walk(body: list[ast.stmt], top: bool) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found = targets(node)
                anywhere.update(found)
                if top:
                    module_level.update(found)
            elif isinstance(node, ast.If):
                late = not top or _is_type_checking(node.test)
                walk(node.body, not late)
                walk(node.orelse, top)
            elif isinstance(node, ast.Try):
                walk(node.body, top)
                for handler in node.handlers:
                    walk(handler.body, top)
                walk(node.orelse, top)
                walk(node.finalbody, top)
            elif isinstance(node, (ast.With, ast.For, ast.While)):
                walk(node.body, top)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                # A class body runs at import time; a function's body later.
                walk(node.body, top and isinstance(node, ast.ClassDef))

    walk(tree.body, True)
    opens = any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "open" for n in ast.walk(tree)
    )
    return Imports(frozenset(module_level), frozenset(anywhere), opens)


def _owner(target: str, known: dict[str, Path]) -> str | None:
    """The known module an import names (its longest known prefix), None for a third-party or stdlib one."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the known modules it imports at module level."""
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        owners = {_owner(t, known) for t in imports_of(name, path, known).module_level}
        graph[name] = {o for o in owners if o is not None and o != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def layer_violations(known: dict[str, Path]) -> list[str]:
    """`module -> import` for every import a layer may not make (see FORBIDDEN), and every `open()` in the pure
    layer."""
    problems = []
    for name, path in known.items():
        layer = name.split(".")[0]
        found = imports_of(name, path, known)
        for target in sorted(found.anywhere):
            if target.split(".")[0] in FORBIDDEN.get(layer, frozenset()):
                problems.append(f"{name} -> {target}")
        if layer == "fhir_mappings" and found.opens_files:
            problems.append(f"{name} -> open()")
    return problems


def test_no_package_imports_itself_round_in_a_circle() -> None:
    known = modules(ROOT, PACKAGES)
    assert len(known) > 100  # the scan sees the packages
    assert cycles(import_graph(known)) == []


def test_each_layer_imports_only_what_it_may() -> None:
    assert layer_violations(modules(ROOT, PACKAGES)) == []


# ---------------------------------------------------------------- the checks themselves can fail


def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return modules(tmp_path, ("fhir_mappings", "plugin"))


def test_a_circle_of_module_level_imports_is_found_and_a_late_import_is_not(tmp_path: Path) -> None:
    known = _package(
        tmp_path,
        {
            "plugin/__init__.py": "",
            "plugin/a.py": "from plugin import b\n",
            "plugin/b.py": "from . import c\n",
            "plugin/c.py": "import plugin.a\n",
            "plugin/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from plugin import e\n",
            "plugin/e.py": "def f():\n    from plugin import d\n",
            "fhir_mappings/__init__.py": "",
        },
    )
    assert cycles(import_graph(known)) == [["plugin.a", "plugin.b", "plugin.c"]]


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import requests\n", "fhir_mappings.m -> requests"),
        ("def f():\n    from plugin.x import y\n", "fhir_mappings.m -> plugin.x"),
        ("from urllib3.util import Retry\n", "fhir_mappings.m -> urllib3.util"),
        ("def f(p):\n    return open(p).read()\n", "fhir_mappings.m -> open()"),
    ],
)
def test_an_import_the_pure_layer_may_not_make_is_found(tmp_path: Path, source: str, problem: str) -> None:
    known = _package(
        tmp_path, {"fhir_mappings/__init__.py": "", "fhir_mappings/m.py": source, "plugin/__init__.py": ""}
    )
    assert layer_violations(known) == [problem]
