"""Static checks of the workflow code: it stays deterministic and shares nothing mutable.

The production worker passes the `workflows` package through the sandbox (imported once per
worker, not once per run; `workers/main.py` `sandbox_runner`), so two guards that the
sandbox gave for free are checked here for every module of the package, whether a test
runs its code or not: only deterministic modules are imported (`activities` only inside
`workflow.unsafe.imports_passed_through()`, for typed references), no clock, randomness,
sleep, environment or file is touched, and no module-level value is a mutable container.
The suite itself runs the full sandbox (`LICENSEFLOW_STRICT_SANDBOX`, `tests/conftest.py`).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import workflows

ROOT = Path(workflows.__file__).parent
ALLOWED = {
    "__future__",
    "asyncio",
    "collections",
    "contextlib",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "functools",
    "itertools",
    "math",
    "types",
    "typing",
    "pydantic",
    "temporalio",
    "domain",
    "workflows",
}
"""Top-level modules workflow code may import (deterministic, or Temporal's own)."""
PASSED_THROUGH_ONLY = {"activities"}
"""Imported only for typed activity references, inside `imports_passed_through()`."""
FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("asyncio", "sleep"),
}
"""`x.y(...)` calls that read the clock or wait in real time (use `workflow.now()`,
`workflow.sleep()` instead)."""
FORBIDDEN_NAMES = {"open", "input", "print", "time", "random", "uuid", "os", "socket"}
"""Names that must not be called or reached through in workflow code."""


def sources() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def module_names() -> list[str]:
    return [
        "workflows",
        *(m.name for m in pkgutil.walk_packages(workflows.__path__, prefix="workflows.")),
    ]


def _passed_through(node: ast.With) -> bool:
    return any("imports_passed_through" in ast.unparse(item.context_expr) for item in node.items)


def violations(path: Path) -> list[str]:
    """What in one source file breaks the rules, as `line: reason`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and _passed_through(node):
            inside.update(id(child) for child in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [("." if node.level else "") + (node.module or "")]
            for name in names:
                top = name.split(".")[0]
                if name.startswith(".") or top in ALLOWED:
                    continue
                if top in PASSED_THROUGH_ONLY and id(node) in inside:
                    continue
                found.append(f"{node.lineno}: imports {name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and (owner.id, node.func.attr) in FORBIDDEN_CALLS:
                found.append(f"{node.lineno}: calls {owner.id}.{node.func.attr}()")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"{node.lineno}: uses {node.id}")
    return found


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_workflow_code_is_deterministic(path: Path) -> None:
    assert violations(path) == []


def assigned_at_module_level(module: ModuleType) -> set[str]:
    """Names a module binds itself at its top level (not imported ones)."""
    tree = ast.parse(Path(module.__file__ or "").read_text())
    names: set[str] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def mutable_globals(module: ModuleType) -> list[str]:
    return [
        key
        for key in sorted(assigned_at_module_level(module))
        if not key.startswith("__") and isinstance(vars(module)[key], list | dict | set | bytearray)
    ]


@pytest.mark.parametrize("name", module_names())
def test_no_module_level_mutable_state(name: str) -> None:
    """Passed through, a module's globals are shared by every run the worker holds."""
    assert mutable_globals(importlib.import_module(name)) == []


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import random\n"
        "from datetime import datetime\n"
        "import activities.deal\n"
        "def f():\n"
        "    return datetime.now(), open('x'), random.random()\n"
    )
    assert violations(bad) == [
        "1: imports random",
        "3: imports activities.deal",
        "5: calls datetime.now()",
        "5: uses open",
        "5: uses random",
    ]
    shared = tmp_path / "shared.py"
    shared.write_text("from os import environ\nA = []\nB: dict[str, int] = {}\nC = (1,)\n")
    spec = importlib.util.spec_from_file_location("shared", shared)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert mutable_globals(module) == ["A", "B"]
