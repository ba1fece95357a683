"""One section per kind of measurement: its rows as tables, pages and answers. A section module has `GRID` (its
cases are entries of a machine's grid), `APART` (its rows are kept apart from a machine's plain rows) and
`page(view, scen, pages, plots, sigs) -> str | None`; which kind has which section is the handler registry's
(`harness.decl.handlers`)."""

from __future__ import annotations

import importlib
from types import ModuleType

from harness.decl import handlers, kinds
from harness.decl.scenarios import Scenario


def of(scen: Scenario) -> ModuleType:
    """The section that renders the scenario's rows (its handler's)."""
    kinds.load()
    name = handlers.get(scen.handler).section
    if name is None:
        raise ValueError(f"handler {scen.handler} of scenario {scen.id} has no reader section")
    return importlib.import_module(name)
