"""The latency part of a run: the timed scenario's cells that are not current (or all, where this machine's
speed moved), rounds interleaved across cells (`harness.runner.timing`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.decl.cells import Cell
from harness.decl.scenarios import Case, Scenario
from harness.runner import envs, timing
from harness.runner.cases import CellRun
from harness.runner.run import PlanContext, Run, applicable, machine_rows, reused_from
from harness.store import fresh, rowfiles

NAME = "latency"
LABEL = "latency"
UNIT = "timing processes"
PRIOR_S = 15.0  # one timing process (import, calibration, samples): 96 took 24 min on 2026-11-30


@dataclass
class Plan:
    """Per timed scenario the cells (and cases) to time, the cells whose timings are current, and why all are
    timed again when this machine's speed moved."""

    scens: dict[str, Scenario]
    name: str = NAME  # the part that planned it (the sweep's plan is this one's)
    todo: dict[str, list[tuple[Cell, list[Case]]]] = field(default_factory=dict)
    reused: list[Cell] = field(default_factory=list)
    speed_note: str | None = None

    @property
    def units(self) -> int:
        """Timing processes: one per cell and round."""
        return sum(int((self.scens[sid].bench or {})["rounds"]) * len(ts) for sid, ts in self.todo.items())


def plan(ctx: PlanContext, name: str = NAME) -> Plan:
    """The cells whose timings are not current, or every cell where this machine's speed moved (or --fresh)."""
    out = Plan({s.id: s for s in ctx.scens}, name)
    if not ctx.scens:
        return out
    if not ctx.opts.fresh:
        out.speed_note = timing.speed_check(machine_rows(ctx.results, ctx.machine_id), ctx.machine_id)
    for scen in ctx.scens:
        for cell in ctx.cells:
            cases = applicable(scen, cell, ctx.opts.patterns)
            if not cases:
                continue
            path = rowfiles.cell_path(ctx.results, ctx.machine_id, cell.id)
            redo = ctx.opts.fresh or out.speed_note
            stale = cases if redo else fresh.to_run(path, cell, cases, {scen.id: scen})
            if stale:
                out.todo.setdefault(scen.id, []).append((cell, stale))
            else:
                out.reused.append(cell)
    return out


def measure(run: Run, planned: Plan) -> None:
    """The timed scenario(s) over the planned cells, rounds interleaved across cells."""
    for cell in dict.fromkeys(planned.reused):
        reused_from(rowfiles.cell_path(run.results, run.machine["id"], cell.id), run.summary, set(planned.scens))
        run.summary.add("reused", planned.name, cell.id)
    if planned.speed_note:
        run.progress.line(f"latency: every cell is timed again: {planned.speed_note}")
        run.summary.notes.append(f"latency timed again: {planned.speed_note}")
    for sid, wanted in planned.todo.items():
        scen = planned.scens[sid]
        todo: list[timing.Target] = []
        for cell, cases in wanted:
            interp = run.interpreter(cell)
            problems = envs.problems(cell, interp)
            if problems:
                run.progress.line(f"{cell.id}: not timed, its interpreter lacks its pins: {problems[0]}")
                CellRun(cell, {sid: scen}, cases, run.results, run.machine, run.opts.invoked, run.progress,
                        interp).record_install_failure(problems, envs.install_log(interp))  # fmt: skip
                run.summary.add("failed", planned.name, cell.id)
                continue
            todo.append(timing.Target(cell, interp, cases))
        if not todo:
            continue
        rounds = int((scen.bench or {})["rounds"])
        run.progress.line(f"{sid}: {len(todo)} cells x {rounds} rounds, {len(todo[0].cases)} cases each")
        deadline = run.progress.start + run.opts.time_limit if run.opts.time_limit else None
        counts = timing.run(todo, scen, run.results, run.machine, run.opts.invoked, run.progress, deadline)
        for target in todo:
            lost = bool(target.reference_s) and len(target.lost) == len(target.reference_s)
            short = len(target.reference_s) < rounds
            kind = "failed" if lost else "unfinished" if short else "measured"
            run.summary.add(kind, planned.name, target.cell.id)
        run.progress.line(f"{sid}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if run.progress.estimate is not None:
        run.progress.estimate.end(planned.name)
