"""A run over a set of cells: one part per kind of measurement (`harness.runner.parts`), in the registry's order.

A plan comes first: what each part must measure because it is not current (`harness.store.fresh`; for
latency also a machine whose speed moved), so the estimate printed on every line covers all parts. Then
each part measures, one line per case or process, and the run ends with a summary of what was measured,
what was reused (and from when), and what failed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.decl.cells import Cell
from harness.decl.scenarios import Scenario
from harness.errors import UserError
from harness.runner import envs, parts, wheels
from harness.runner.envs import Interpreter
from harness.runner.progress import Estimate, Progress
from harness.runner.run import Options, PlanContext, Run, Summary

PRIOR_INSTALL_S = 8.0  # a cell's environment from a warm uv cache
PRIOR_REPORT_S = 15.0


def select_cells(matrix_cells: tuple[Cell, ...], ids: list[str] | None, tags: list[str] | None) -> list[Cell]:
    """Cells by id or tag (any of the given), else every default cell, in file order."""
    if not ids and not tags:
        return [c for c in matrix_cells if c.default]
    known = {c.id for c in matrix_cells}
    unknown = sorted(set(ids or []) - known)
    if unknown:
        raise UserError(f"unknown cell id(s) {unknown}; `nox -s cells` lists them")
    chosen = [c for c in matrix_cells if c.id in (ids or []) or set(tags or []) & set(c.tags)]
    if not chosen:
        raise UserError(f"no cell has tag(s) {tags}; cells are tagged by role, flavor and backend (`nox -s cells`)")
    return chosen


class Interpreters:
    """Each cell's interpreter, resolved (and installed) once per run, from one rule for every cell."""

    def __init__(self, opts: Options, sites: dict[str, Path]) -> None:
        self.opts, self.sites = opts, sites
        self.found: dict[str, Interpreter] = {}

    def __call__(self, cell: Cell) -> Interpreter:
        """The cell's interpreter: given, in place with wheels, or a uv environment installed now if needed."""
        if cell.id not in self.found:
            if self.opts.python:
                self.found[cell.id] = envs.given(cell, self.opts.python, self.opts.device)
            elif self.opts.wheels is not None:
                self.found[cell.id] = envs.in_place(cell, self.sites.get(cell.id), self.opts.device)
            else:
                self.found[cell.id] = envs.install(cell, self.opts.device)
        return self.found[cell.id]


@contextlib.contextmanager
def interpreters(opts: Options, cells: list[Cell]) -> Iterator[Interpreters]:
    """The run's interpreter resolver (wheel folders unpacked for its duration)."""
    if opts.wheels is None:
        yield Interpreters(opts, {})
        return
    if not opts.wheels.is_dir():
        raise UserError(f"wheel folder {opts.wheels} does not exist (one sub-folder keras-<version> per Keras release)")
    with wheels.unpacked(opts.wheels, [c for c in cells if c.keras]) as sites:
        yield Interpreters(opts, sites)


@dataclass
class Plan:
    """What a run will measure: the selected cells, and each selected part's own plan (by the part's name)."""

    cells: list[Cell]
    parts: dict[str, Any] = field(default_factory=dict)
    modules: dict[str, ModuleType] = field(default_factory=dict)

    def units(self) -> dict[str, int]:
        """Each part's units to measure: cases, timing processes, cross-load processes, file loads."""
        return {name: int(p.units) for name, p in self.parts.items()}


def selected(opts: Options) -> list[tuple[str, ModuleType]]:
    """(handler, part module) of the parts the options select (all when none are named), in the registry's order."""
    return [(h, m) for h, m in parts.modules() if not opts.parts or m.NAME in opts.parts]


def make_plan(
    cells: list[Cell], all_cells: dict[str, Cell], scens: list[Scenario], results: Path, machine_id: str, opts: Options
) -> Plan:
    """Decide, from the stored rows, what each selected part must measure."""
    plan = Plan(cells)
    for handler, module in selected(opts):
        ctx = PlanContext(cells, all_cells, [s for s in scens if s.handler == handler], scens, results, machine_id,
                          opts)  # fmt: skip
        plan.parts[module.NAME] = module.plan(ctx)
        plan.modules[module.NAME] = module
    return plan


def outline(plan: Plan) -> list[str]:
    """What a run would measure, part by part (`matrix --plan`): its units, and for a timed part each cell's cases."""
    lines = []
    for name, part in plan.parts.items():
        lines.append(f"{name}: {part.units} {plan.modules[name].UNIT}")
        todo_by_scenario = getattr(part, "todo", None)
        if not isinstance(todo_by_scenario, dict):  # only the timed parts keep their cases per scenario
            continue
        for sid, todo in todo_by_scenario.items():
            for cell, cases in todo:
                lines.append(f"  {sid} in {cell.id}: {len(cases)} cases, {cases[0].case_id} .. {cases[-1].case_id}")
    return lines


def estimate(plan: Plan, opts: Options, report: bool) -> Estimate:
    """The run's estimate: every part's units at its prior pace until measured."""
    est = Estimate()
    installs = sum(
        1 for c in plan.cells if opts.python is None and opts.wheels is None and not envs.installed(c, opts.device)
    )
    est.plan("install", installs, PRIOR_INSTALL_S)
    for name, units in plan.units().items():
        est.plan(name, units, plan.modules[name].PRIOR_S)
    if report:
        est.plan("report", 1, PRIOR_REPORT_S)
    return est


def measure(run: Run, plan: Plan, only: tuple[str, ...] = ()) -> Summary:
    """Every planned part (or those named in `only`), in order."""
    run.summary.labels = {name: module.LABEL for name, module in plan.modules.items()}
    for name, module in plan.modules.items():
        if not only or name in only:
            module.measure(run, plan.parts[name])
    return run.summary


def execute(
    cells: list[Cell],
    all_cells: dict[str, Cell],
    scens: list[Scenario],
    results: Path,
    machine: dict[str, Any],
    opts: Options,
    render: Callable[[], str] | None = None,
) -> Summary:
    """Plan, measure, summarise, and render the report (`render`, given by the caller: readers are above the runner)."""
    plan = make_plan(cells, all_cells, scens, results, machine["id"], opts)
    if opts.plan_only:
        for line in outline(plan):
            print(line, flush=True)
        return Summary()
    est = estimate(plan, opts, render is not None)
    progress = Progress("[matrix]", time.time(), est)
    todo = [f"{n} {plan.modules[name].UNIT}" for name, n in plan.units().items()]
    progress.line(f"{len(cells)} cells on {machine['id']}: " + (", ".join(todo) or "nothing")
                  + " to run; the rest is current")  # fmt: skip
    with interpreters(opts, cells) as resolve:
        run = Run(cells, {s.id: s for s in scens}, all_cells, results, machine, resolve, progress, opts)
        summary = measure(run, plan)
    if render is not None:
        est.begin("report", 1)
        out = render()
        est.end("report")
        progress.line(f"report: {out}")
    return summary
