"""The layers and which way imports run: decl -> runner -> child (by process only) -> rows -> readers.

Library code never imports the command line; declarations, the runner, the store and the readers import
no framework and no child code (a child runs in its cell's interpreter, started as a process).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "harness"
FRAMEWORKS = ("tensorflow", "keras", "jax", "torch", "tf_keras")
# What each layer may import from the harness; "shared" are the small top-level modules (errors, signature,
# stats, rewrite, ci) that any layer may use and that use nothing but each other.
ALLOWED = {
    "shared": {"shared"},
    "decl": {"shared", "decl"},
    "child": {"shared", "child", "decl"},
    "store": {"shared", "store", "decl"},
    "runner": {"shared", "runner", "decl", "store"},
    "readers": {"shared", "readers", "decl", "store"},
    "tools": {"shared", "tools", "runner", "decl", "store", "readers"},
    "commands": {"shared", "commands", "runner", "decl", "store", "readers", "tools"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> list[str]:
    return sorted(module_name(p) for p in PACKAGE.rglob("*.py"))


def harness_imports(path: Path) -> set[str]:
    """Every harness module the file imports (at any depth of the file, lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("harness")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness"):
            found |= {f"{node.module}.{a.name}" if node.module in ("harness", *_packages()) else node.module
                      for a in node.names}  # fmt: skip
    return found


def _packages() -> tuple[str, ...]:
    return tuple(module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py"))


def layer_of(name: str) -> str:
    """The layer a module belongs to: its sub-package, or "shared" for the top-level modules."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "shared"


def test_no_library_module_imports_the_command_line() -> None:
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        if name.startswith("harness.commands") or name == "harness.__main__":
            continue
        bad = {m for m in harness_imports(path) if m.startswith(("harness.commands", "harness.__main__"))}
        assert not bad, f"{name} imports the command line: {sorted(bad)}"


def test_each_layer_imports_only_the_layers_before_it() -> None:
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        if name == "harness.__main__":
            continue  # the command line's entry: it parses and dispatches to `harness.commands`
        layer = layer_of(name)
        for imported in harness_imports(path):
            target = layer_of(imported)
            assert target in ALLOWED[layer], f"{name} ({layer}) imports {imported} ({target})"


IMPORT_ALL = """
import importlib, json, sys
names = json.loads(sys.argv[1])
for name in names:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {frameworks} or m.startswith("harness.child"))
print(json.dumps(loaded))
"""


def test_importing_every_non_child_module_loads_no_framework_and_no_child_code() -> None:
    names = [m for m in modules() if not m.startswith("harness.child") and m != "harness.__main__"]
    names.append("harness.__main__")  # the command line too: every command module, as `--help` loads them
    assert len(names) > 40
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL.format(frameworks=set(FRAMEWORKS)), json.dumps(names)],
        env={"PYTHONPATH": str(ROOT), "PATH": ""}, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize("command", ["report", "triage", "spread", "cells", "merge", "bisect", "matrix", "repair"])
def test_a_command_s_help_loads_no_framework(command: str) -> None:
    probe = (
        f"import sys, runpy\nsys.argv = ['harness', {command!r}, '--help']\ntry:\n    runpy.run_module('harness', "
        f"run_name='__main__')\nexcept SystemExit:\n    pass\nprint(sorted(m for m in sys.modules if m.split('.')[0] "
        f"in {set(FRAMEWORKS)!r} or m.startswith('harness.child')), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], env={"PYTHONPATH": str(ROOT), "PATH": ""}, capture_output=True, text=True
    )
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def import_graph() -> dict[str, set[str]]:
    """Module -> the harness modules it imports (lazy imports included; `from package import name` resolved to the
    module `name` where there is one)."""
    known = set(modules())
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        targets = set()
        for imported in harness_imports(path):
            while imported not in known and "." in imported:
                imported = imported.rsplit(".", 1)[0]
            if imported in known and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of two or more modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_inside_any_package_or_between_them() -> None:
    assert cycles(import_graph()) == []


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_over_500_lines() -> None:
    sizes = {module_name(p): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {m: n for m, n in sizes.items() if n > 500} == {}
