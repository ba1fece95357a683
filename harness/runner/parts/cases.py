"""The compatibility cases' part of a run: every selected cell's cases that are not current, cells side by side,
the longest first."""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, field
from pathlib import Path

from harness.decl.cells import Cell
from harness.decl.scenarios import Case, Scenario
from harness.runner.cases import run_cell
from harness.runner.run import PlanContext, Run, applicable, reused_from
from harness.store import fresh, rowfiles

NAME = "compat"
LABEL = "cases"
UNIT = "cases"
PRIOR_S = 0.7  # wall seconds per compatibility case, two cells side by side, before any was measured


@dataclass
class Plan:
    """Per cell (numbered in the run) the cases to measure, or how many current ones it reuses."""

    scens: dict[str, Scenario]
    todo: list[tuple[int, Cell, list[Case]]] = field(default_factory=list)
    reused: list[tuple[int, Cell, int]] = field(default_factory=list)

    @property
    def units(self) -> int:
        """Cases to measure."""
        return sum(len(cases) for _, _, cases in self.todo)


def plan(ctx: PlanContext) -> Plan:
    """The cases that are not current (all with --fresh)."""
    checked = {s.id: s for s in ctx.scens}
    out = Plan(checked)
    for i, cell in enumerate(ctx.cells, 1):
        cases = [c for s in checked.values() for c in applicable(s, cell, ctx.opts.patterns)]
        if not cases:
            continue
        path = rowfiles.cell_path(ctx.results, ctx.machine_id, cell.id)
        todo = cases if ctx.opts.fresh else fresh.to_run(path, cell, cases, checked)
        if todo:
            out.todo.append((i, cell, todo))
        else:
            out.reused.append((i, cell, len(cases)))
    return out


def _failed(counts: dict[str, int], path: Path, cases: list[Case]) -> bool:
    """Whether the cell failed as a cell (install, import, crash or hang) rather than in its cases' stages."""
    if counts.get("crash") or counts.get("timeout"):
        return True
    rows = fresh.rows_by_case(path)
    return any((rows.get((c.scenario, c.case_id)) or {}).get("failed_stage") in ("install", "import") for c in cases)


def _cost(run: Run, cell: Cell, todo: list[Case]) -> float:
    """Seconds the cell's cases took when last measured here (one second a case where none was)."""
    rows = fresh.rows_by_case(rowfiles.cell_path(run.results, run.machine["id"], cell.id))
    return sum(float((rows.get((c.scenario, c.case_id)) or {}).get("duration_s") or 1.0) for c in todo)


def measure(run: Run, planned: Plan) -> None:
    """Every planned cell's compatibility cases; `jobs` cells side by side."""
    checked = planned.scens
    for _, cell, _ in planned.reused:
        reused_from(rowfiles.cell_path(run.results, run.machine["id"], cell.id), run.summary, set(checked))
        run.summary.add("reused", NAME, cell.id)
    if planned.reused:
        rows = sum(count for _, _, count in planned.reused)
        run.progress.line(f"cases: {len(planned.reused)} cells current, {rows} rows reused")
    if not planned.todo:
        return
    if run.progress.estimate is not None:
        run.progress.estimate.begin(NAME)
    jobs = run.opts.jobs
    per_cell = max(1, jobs // len(planned.todo)) if len(planned.todo) < jobs else 1

    def one(item: tuple[int, Cell, list[Case]]) -> None:
        i, cell, todo = item
        label = run.label(i, cell)
        interp = run.interpreter(cell)
        counts = run_cell(cell, checked, todo, run.results, run.machine, interp, label, jobs=per_cell,
                          invoked=run.opts.invoked, store=run.store)  # fmt: skip
        failed = _failed(counts, rowfiles.cell_path(run.results, run.machine["id"], cell.id), todo)
        run.summary.add("failed" if failed else "measured", NAME, cell.id)

    # Longest cells first (by the seconds their stored rows took, else by case count): the last cells
    # to finish are short ones, so both cores stay busy to the end.
    order = sorted(planned.todo, key=lambda item: -_cost(run, item[1], item[2]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(jobs, len(order)))) as pool:
        list(pool.map(one, order))
    if run.progress.estimate is not None:
        run.progress.estimate.end(NAME)
