"""Kinds of measurement added from outside the package: `MASKCOMPAT_KINDS` names a TOML file of extra kinds, each a
handler (name, declared version, what it measures, its child module, runner part and reader section) and the
builder its scenarios name. The modules are found on `path` (relative to the file), in the parent and in every
child. Adding a kind this way changes no module of the harness (`tests/test_kinds.py` adds one end to end).

    [[kind]]
    name = "echo"
    version = 1
    measures = "what a row of it says"
    child = "echo_child"          # handle(stack, request, stage) -> dict, in the cell's interpreter
    part = "echo_part"            # NAME, LABEL, UNIT, PRIOR_S, plan(ctx), measure(run, plan)
    section = "echo_section"      # GRID, LISTED, APART, page(view, scen, pages, plots, sigs), summarize(...)
    path = "."
    builder = { name = "echo", params = { word = ["hello", "bye"] }, required = ["word"] }
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from harness.decl import handlers, registry
from harness.decl.handlers import Handler
from harness.errors import UserError

VARIABLE = "MASKCOMPAT_KINDS"
FIELDS = {"name", "version", "measures", "child", "part", "section", "path", "builder"}


@functools.cache
def _load(path: str) -> tuple[str, ...]:
    from harness.decl import toml  # only where a kind is added: a Python 3.10 cell may lack the tomli backport

    file = Path(path)
    data = toml.read(file, f"kinds file {VARIABLE} names")
    added = []
    for i, raw in enumerate(data.get("kind", []), 1):
        where = f"{file.name} kind {i}"
        unknown = set(raw) - FIELDS
        if unknown:
            raise UserError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        try:
            handler = Handler(str(raw["name"]), int(raw["version"]), str(raw["measures"]), str(raw["child"]),
                              raw.get("part"), raw.get("section"))  # fmt: skip
            spec = dict(raw["builder"])
            builder = registry.Builder(
                {str(k): tuple(map(str, v)) for k, v in dict(spec.get("params", {})).items()},
                tuple(spec.get("required", ())), {}, handler,
            )  # fmt: skip
            builder_name = str(spec["name"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{where}: missing or malformed field ({exc})") from None
        if handler.name in handlers.HANDLERS or builder_name in registry.BUILDERS:
            raise UserError(f"{where}: {handler.name!r} or builder {builder_name!r} is already registered")
        folder = str((file.parent / str(raw.get("path", "."))).resolve())
        if folder not in sys.path:
            sys.path.insert(0, folder)
        handlers.HANDLERS[handler.name] = handler
        registry.BUILDERS[builder_name] = builder
        added.append(handler.name)
    return tuple(added)


def load() -> tuple[str, ...]:
    """Register the kinds the environment names (once per process); the names of the kinds it added."""
    path = os.environ.get(VARIABLE)
    return _load(path) if path else ()
