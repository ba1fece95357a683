"""One part per kind of measurement that `matrix` runs, found through the handler registry
(`harness.decl.handlers`: a handler's `part` names its module).

A part module has `NAME` (what `--part` selects and the summary counts by), `LABEL` (its name in the summary
line), `UNIT` (what its progress counts, plural), `PRIOR_S` (a unit's seconds before any was measured, for the
estimate), `plan(ctx: PlanContext) -> plan` (what is not current; the plan has `units`) and
`measure(run: Run, plan) -> None` (one line per cell or process, rows stored as it goes).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from harness.decl import handlers, kinds


def modules() -> list[tuple[str, ModuleType]]:
    """(handler name, part module) of every handler that has a part, in the registry's order."""
    kinds.load()
    return [(h.name, importlib.import_module(h.part)) for h in handlers.HANDLERS.values() if h.part]


def names() -> tuple[str, ...]:
    """Every part's name, in the order a run measures them."""
    return tuple(m.NAME for _, m in modules())
