"""A run over a set of cells: compatibility cases (cells side by side), then latency, then cross-load.

A plan comes first: what each part must measure because it is not current (`harness.store.fresh`; for
latency also a machine whose speed moved), so the estimate printed on every line covers all parts. Then
each part runs, one line per case or process, and the run ends with a summary of what was measured,
what was reused (and from when), and what failed.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.decl import scenarios
from harness.decl.cells import Cell
from harness.decl.scenarios import Case, Scenario
from harness.errors import UserError
from harness.runner import bench, crossload, envs, filestore, wheels
from harness.runner import upgrade as loads
from harness.runner.cases import CellRun, run_cell
from harness.runner.envs import Interpreter
from harness.runner.progress import Estimate, Progress
from harness.store import files, fresh

PRIOR_CASE_S = 0.7  # wall seconds per compatibility case, two cells side by side, before any was measured
PRIOR_INSTALL_S = 8.0  # a cell's environment from a warm uv cache
PRIOR_PROCESS_S = 15.0  # one timing process (import, calibration, samples): 96 took 24 min on 2026-11-30
PRIOR_CROSSLOAD_S = 12.0  # one cross-load process
PRIOR_REPORT_S = 15.0
PRIOR_LOAD_S = 0.03  # one file loaded, predicted, compared: 19,424 took 9 min 23 s on 2026-11-30, two cells at once


@dataclass
class Options:
    """What the run measures and how: selection, freshness, parallelism, where interpreters come from."""

    patterns: list[str] | None = None
    fresh: bool = False
    jobs: int = 2
    device: str = "cpu"
    python: str | None = None  # one interpreter for every cell (`run --python`)
    wheels: Path | None = None  # Keras from wheel folders, in this interpreter
    time_limit: float = 0.0
    invoked: str = ""
    parts: tuple[str, ...] = ("compat", "latency", "crossload", "upgrade")
    store: Path | None = None  # where cases keep their saved files for other cells (None: the default store)
    savers: tuple[str, ...] = ()  # whose saved files the upgrade part loads (empty: every default and selected cell)


@dataclass
class Summary:
    """What a run did, per part: cells measured, reused (with when and where), failed."""

    measured: dict[str, list[str]] = field(default_factory=dict)
    reused: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, list[str]] = field(default_factory=dict)
    unfinished: dict[str, list[str]] = field(default_factory=dict)
    reused_from: set[tuple[str, str]] = field(default_factory=set)  # (date, machine id) of reused rows
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, part: str, cell: str) -> None:
        """Count a cell as measured, reused, failed or unfinished in a part."""
        getattr(self, kind).setdefault(part, []).append(cell)

    def line(self) -> str:
        """One line: what was measured, reused (from when and where) and failed."""
        parts = []
        for part in ("compat", "latency", "crossload", "upgrade"):
            m, r, f, u = (len(getattr(self, k).get(part, [])) for k in ("measured", "reused", "failed", "unfinished"))
            if m or r or f or u:
                name = {"compat": "cases", "latency": "latency", "crossload": "cross-load", "upgrade": "upgrade"}[part]
                parts.append(f"{name}: {m} cells measured, {r} reused, {f} failed" + (f", {u} unfinished" if u else ""))
        when = sorted({d for d, _ in self.reused_from})
        where = sorted({mid for _, mid in self.reused_from})
        reused = f" (reused rows measured {_span(when)} on {', '.join(where)})" if when else ""
        return "; ".join(parts) + reused


def _span(days: list[str]) -> str:
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"


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


def applicable(scen: Scenario, cell: Cell, patterns: list[str] | None) -> list[Case]:
    """The scenario's cases that apply to the cell and match the patterns (all when there are none)."""
    if not scen.applies_to(cell.id, cell.tags):
        return []
    return [c for c in scen.cases() if not patterns or scenarios.matches(c, patterns)]


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
    """What a run will measure, per part, and what it will reuse."""

    cells: list[Cell]
    compat: list[tuple[int, Cell, list[Case]]] = field(default_factory=list)
    compat_reused: list[tuple[int, Cell, int]] = field(default_factory=list)
    latency: dict[str, list[tuple[Cell, list[Case]]]] = field(default_factory=dict)
    latency_reused: list[Cell] = field(default_factory=list)
    speed_note: str | None = None
    crossload: list[Scenario] = field(default_factory=list)
    crossload_reused: list[Scenario] = field(default_factory=list)
    crossload_left: list[str] = field(default_factory=list)
    upgrade: list[Scenario] = field(default_factory=list)
    savers: list[Cell] = field(default_factory=list)
    loads: int = 0  # files to load, as far as the current rows tell before the cases run

    def units(self, scens: dict[str, Scenario]) -> dict[str, int]:
        """Cases, timing processes, cross-load processes and files to load."""
        return {
            "compat": sum(len(todo) for _, _, todo in self.compat),
            "latency": sum(int((scens[sid].bench or {})["rounds"]) * len(ts) for sid, ts in self.latency.items()),
            "crossload": sum(2 * len(s.cells) for s in self.crossload),
            "upgrade": self.loads,
        }


def make_plan(
    cells: list[Cell], all_cells: dict[str, Cell], scens: list[Scenario], results: Path, machine_id: str, opts: Options
) -> Plan:
    """Decide, from the stored rows, what each part must measure."""
    plan = Plan(cells)
    if "compat" in opts.parts:
        checked = {s.id: s for s in scens if s.handler == "cases"}
        for i, cell in enumerate(cells, 1):
            cases = [c for s in checked.values() for c in applicable(s, cell, opts.patterns)]
            if not cases:
                continue
            path = files.cell_path(results, machine_id, cell.id)
            todo = cases if opts.fresh else fresh.to_run(path, cell, cases, checked)
            if todo:
                plan.compat.append((i, cell, todo))
            else:
                plan.compat_reused.append((i, cell, len(cases)))
    timed = [s for s in scens if s.timed]
    if "latency" in opts.parts and timed:
        if not opts.fresh:
            plan.speed_note = bench.speed_check(_rows(results, machine_id), machine_id)
        for scen in timed:
            for cell in cells:
                cases = applicable(scen, cell, opts.patterns)
                if not cases:
                    continue
                path = files.cell_path(results, machine_id, cell.id)
                redo = opts.fresh or plan.speed_note
                stale = cases if redo else fresh.to_run(path, cell, cases, {scen.id: scen})
                if stale:
                    plan.latency.setdefault(scen.id, []).append((cell, stale))
                else:
                    plan.latency_reused.append(cell)
    if "crossload" in opts.parts:
        chosen = {c.id for c in cells}
        for scen in (s for s in scens if s.handler == "crossload"):
            if opts.patterns and not any(scenarios.matches(c, opts.patterns) for c in scen.cases()):
                continue
            missing = [cid for cid in scen.cells if cid not in all_cells]
            if missing:
                raise UserError(f"{scen.id}: names cells the cells file does not have: {', '.join(missing)}")
            if not set(scen.cells) <= chosen:
                plan.crossload_left.append(scen.id)
                continue
            one = {scen.id: scen}
            again = opts.fresh or any(
                fresh.to_run(files.cell_path(results, machine_id, c), all_cells[c], scen.cases(), one, all_cells)
                for c in scen.cells
            )
            (plan.crossload if again else plan.crossload_reused).append(scen)
    if "upgrade" in opts.parts:
        plan.upgrade = [s for s in scens if s.handler == "upgrade"]
        if opts.savers:
            plan.savers = [all_cells[cid] for cid in opts.savers]
        else:
            plan.savers = list(dict.fromkeys([c for c in all_cells.values() if c.default] + cells))
        by_id = {s.id: s for s in scens}
        for scen in plan.upgrade:
            items = _matching(loads.saved_by(plan.savers, scen, by_id, results, machine_id), scen, opts.patterns)
            for cell in cells:
                mine = items if opts.fresh else loads.to_load(cell, scen, items, results, machine_id)
                plan.loads += len({i.load_key() for i in mine if i.saved})
    return plan


def estimate(plan: Plan, scens: list[Scenario], opts: Options, report: bool) -> Estimate:
    """The run's estimate: every part's units at its prior pace until measured."""
    est = Estimate()
    units = plan.units({s.id: s for s in scens})
    est.plan("compat", units["compat"], PRIOR_CASE_S)
    installs = sum(
        1 for c in plan.cells if opts.python is None and opts.wheels is None and not envs.installed(c, opts.device)
    )
    est.plan("install", installs, PRIOR_INSTALL_S)
    est.plan("latency", units["latency"], PRIOR_PROCESS_S)
    est.plan("crossload", units["crossload"], PRIOR_CROSSLOAD_S)
    est.plan("upgrade", units["upgrade"], PRIOR_LOAD_S)
    if report:
        est.plan("report", 1, PRIOR_REPORT_S)
    return est


def _matching(items: list[loads.Saved], scen: Scenario, patterns: list[str] | None) -> list[loads.Saved]:
    """The saved files whose upgrade case (or source case) matches the patterns (all when there are none)."""
    if not patterns:
        return items
    return [
        i for i in items if scenarios.matches(i.upgrade_case(scen), patterns) or scenarios.matches(i.case, patterns)
    ]


def _reused_from(path: Path, summary: Summary, scenario_ids: set[str]) -> None:
    """Note when and where the reused rows of a cell file were measured."""
    for row in files.read_file(path, older=True) if path.exists() else []:
        if row["scenario"] in scenario_ids:
            summary.reused_from.add((row["started_at"][:10], row["machine"]["id"]))


def _rows(results: Path, machine_id: str) -> list[dict[str, Any]]:
    """The cell files' rows of one machine (not the upgrade rows: the speed check needs latency only)."""
    folder = results / machine_id
    return [r for path in sorted(folder.glob("*.jsonl")) for r in files.read_file(path, older=True)]


def _failed(counts: dict[str, int], path: Path, cases: list[Case]) -> bool:
    """Whether the cell failed as a cell (install, import, crash or hang) rather than in its cases' stages."""
    if counts.get("crash") or counts.get("timeout"):
        return True
    rows = fresh.rows_by_case(path)
    return any((rows.get((c.scenario, c.case_id)) or {}).get("failed_stage") in ("install", "import") for c in cases)


@dataclass
class Run:
    """One execution of a plan: where rows go, how interpreters are found, where progress is printed."""

    plan: Plan
    scens: dict[str, Scenario]
    all_cells: dict[str, Cell]
    results: Path
    machine: dict[str, Any]
    resolve: Callable[[Cell], Interpreter]
    progress: Progress
    opts: Options
    summary: Summary = field(default_factory=Summary)

    def label(self, i: int, cell: Cell) -> Progress:
        """The progress of one cell: `[ i/n id]`."""
        return self.progress.sub(f"[{i:>2}/{len(self.plan.cells)} {cell.id}]")

    def interpreter(self, cell: Cell) -> Interpreter:
        """The cell's interpreter (an install counts in the estimate)."""
        installed = (
            self.opts.python is not None or self.opts.wheels is not None or envs.installed(cell, self.opts.device)
        )
        interp = self.resolve(cell)
        if not installed and self.progress.estimate is not None:
            self.progress.estimate.tick("install")
        return interp

    def _cost(self, cell: Cell, todo: list[Case]) -> float:
        """Seconds the cell's cases took when last measured here (one second a case where none was)."""
        rows = fresh.rows_by_case(files.cell_path(self.results, self.machine["id"], cell.id))
        return sum(float((rows.get((c.scenario, c.case_id)) or {}).get("duration_s") or 1.0) for c in todo)

    def compat(self) -> None:
        """Every planned cell's compatibility cases; `jobs` cells side by side."""
        checked = {sid: s for sid, s in self.scens.items() if s.handler == "cases"}
        for _, cell, _ in self.plan.compat_reused:
            _reused_from(files.cell_path(self.results, self.machine["id"], cell.id), self.summary, set(checked))
            self.summary.add("reused", "compat", cell.id)
        if self.plan.compat_reused:
            rows = sum(count for _, _, count in self.plan.compat_reused)
            self.progress.line(f"cases: {len(self.plan.compat_reused)} cells current, {rows} rows reused")
        if not self.plan.compat:
            return
        if self.progress.estimate is not None:
            self.progress.estimate.begin("compat")
        jobs = self.opts.jobs
        per_cell = max(1, jobs // len(self.plan.compat)) if len(self.plan.compat) < jobs else 1

        def one(item: tuple[int, Cell, list[Case]]) -> None:
            i, cell, todo = item
            label = self.label(i, cell)
            interp = self.interpreter(cell)
            counts = run_cell(cell, checked, todo, self.results, self.machine, interp, label, jobs=per_cell,
                              invoked=self.opts.invoked, store=self.store)  # fmt: skip
            failed = _failed(counts, files.cell_path(self.results, self.machine["id"], cell.id), todo)
            self.summary.add("failed" if failed else "measured", "compat", cell.id)

        # Longest cells first (by the seconds their stored rows took, else by case count): the last cells
        # to finish are short ones, so both cores stay busy to the end.
        order = sorted(self.plan.compat, key=lambda item: -self._cost(item[1], item[2]))
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(jobs, len(order)))) as pool:
            list(pool.map(one, order))
        if self.progress.estimate is not None:
            self.progress.estimate.end("compat")

    def latency(self) -> None:
        """The latency scenario(s) over the planned cells, rounds interleaved across cells."""
        timed_ids = {sid for sid, s in self.scens.items() if s.timed}
        for cell in dict.fromkeys(self.plan.latency_reused):
            _reused_from(files.cell_path(self.results, self.machine["id"], cell.id), self.summary, timed_ids)
            self.summary.add("reused", "latency", cell.id)
        if self.plan.speed_note:
            self.progress.line(f"latency: every cell is timed again: {self.plan.speed_note}")
            self.summary.notes.append(f"latency timed again: {self.plan.speed_note}")
        for sid, wanted in self.plan.latency.items():
            scen = self.scens[sid]
            todo: list[bench.Target] = []
            for cell, cases in wanted:
                interp = self.interpreter(cell)
                problems = envs.problems(cell, interp)
                if problems:
                    self.progress.line(f"{cell.id}: not timed, its interpreter lacks its pins: {problems[0]}")
                    CellRun(cell, {sid: scen}, cases, self.results, self.machine, self.opts.invoked, self.progress,
                            interp).record_install_failure(problems, envs.install_log(interp))  # fmt: skip
                    self.summary.add("failed", "latency", cell.id)
                    continue
                todo.append(bench.Target(cell, interp, cases))
            if not todo:
                continue
            rounds = int((scen.bench or {})["rounds"])
            self.progress.line(f"{sid}: {len(todo)} cells x {rounds} rounds, {len(todo[0].cases)} cases each")
            deadline = self.progress.start + self.opts.time_limit if self.opts.time_limit else None
            counts = bench.run(todo, scen, self.results, self.machine, self.opts.invoked, self.progress, deadline)
            for target in todo:
                lost = bool(target.reference_s) and len(target.lost) == len(target.reference_s)
                short = len(target.reference_s) < rounds
                kind = "failed" if lost else "unfinished" if short else "measured"
                self.summary.add(kind, "latency", target.cell.id)
            self.progress.line(f"{sid}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
        if self.progress.estimate is not None:
            self.progress.estimate.end("latency")

    def crossload(self) -> None:
        """Every planned cross-load set: each cell saves, then each loads what all saved."""
        for sid in self.plan.crossload_left:
            self.progress.line(f"{sid}: not run (its cells are not all selected)")
        for scen in self.plan.crossload_reused:
            for cid in scen.cells:
                path = files.cell_path(self.results, self.machine["id"], cid)
                _reused_from(path, self.summary, {scen.id})
                self.summary.add("reused", "crossload", cid)
        for scen in self.plan.crossload:
            members = [self.all_cells[cid] for cid in scen.cells]
            if self.progress.estimate is not None:
                self.progress.estimate.begin("crossload")
            self.progress.line(f"{scen.id}: {len(members)} cells save, then each loads all ({len(scen.cases())} cases)")
            targets = [(cell, self.interpreter(cell)) for cell in members]
            counts = crossload.run(scen, targets, self.results, self.machine, self.opts.invoked, self.progress)
            for cell in members:
                self.summary.add("measured", "crossload", cell.id)
            self.progress.line(f"{scen.id}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
        if self.progress.estimate is not None:
            self.progress.estimate.end("crossload")

    @property
    def store(self) -> Path:
        """Where cases keep the files they save, and loading cells find them."""
        return self.opts.store or filestore.root()

    def upgrade(self) -> None:
        """Every selected cell loads every file the saving cells kept (those without a current row)."""
        for scen in self.plan.upgrade:
            items, work = self._loads(scen)
            # Only files that some cell must load need to be in the store (a fresh clone has current rows and
            # no store: it loads nothing, so it saves nothing again).
            if self._keep_again([x for _, _, _, mine in work for x in mine]):
                items, work = self._loads(scen)  # those cases' rows now hold the addresses of what they kept
            busy = {cell.id for _, cell, _, _ in work}
            for cell in self.plan.cells:
                if cell.id not in busy:
                    self.summary.add("reused", "upgrade", cell.id)
            if not work:
                continue
            n = sum(len({x.load_key() for x in mine if x.saved}) for _, _, _, mine in work)
            if self.progress.estimate is not None:
                self.progress.estimate.begin("upgrade", n)
            self.progress.line(
                f"{scen.id}: {len(work)} cells load the files of {len(self.plan.savers)} saving cells "
                f"({len(items)} saved cases, {n} loads)"
            )
            with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(self.opts.jobs, len(work)))) as pool:
                list(pool.map(self._load_in, work))
        if self.progress.estimate is not None:
            self.progress.estimate.end("upgrade")

    def _loads(self, scen: Scenario) -> tuple[list[loads.Saved], list[tuple[int, Cell, Scenario, list[loads.Saved]]]]:
        """The saved files, and per loading cell those it must load (all with --fresh, else those not current)."""
        items = loads.saved_by(self.plan.savers, scen, self.scens, self.results, self.machine["id"])
        items = _matching(items, scen, self.opts.patterns)
        work = []
        for i, cell in enumerate(self.plan.cells, 1):
            mine = items if self.opts.fresh else loads.to_load(cell, scen, items, self.results, self.machine["id"])
            if mine:
                work.append((i, cell, scen, mine))
        return items, work

    def _load_in(self, job: tuple[int, Cell, Scenario, list[loads.Saved]]) -> None:
        """One loading cell's files, in one child of it."""
        i, cell, scen, mine = job
        label = self.label(i, cell)
        counts = loads.run(cell, self.interpreter(cell), scen, mine, self.results, self.machine, self.opts.invoked,
                           label, self.store)  # fmt: skip
        failed = bool(counts.get("fail")) and counts.get("fail") == sum(counts.values())
        self.summary.add("failed" if failed else "measured", "upgrade", cell.id)
        label.line("upgrade: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))

    def _keep_again(self, items: list[loads.Saved]) -> bool:
        """Saved files the store lacks (another machine's rows, a cleaned cache): run their cases again to keep them."""
        missing: dict[str, dict[int, loads.Saved]] = {}
        for item in items:  # one item appears once per loading cell that needs it
            if item.unkept or (item.saved is not None and not filestore.has(item.saved, self.store)):
                missing.setdefault(item.saver.id, {})[id(item)] = item
        for cid, by_id in missing.items():
            lacking = list(by_id.values())
            cell = lacking[0].saver
            self.progress.line(f"{cid}: {len(lacking)} saved files are not in {self.store}; running those cases again")
            scens = {i.source.id: i.source for i in lacking}
            run_cell(cell, scens, [i.case for i in lacking], self.results, self.machine, self.interpreter(cell),
                     self.progress.sub(f"[{cid}]"), invoked=self.opts.invoked, store=self.store)  # fmt: skip
        return bool(missing)

    def all(self) -> Summary:
        """Every part, in order."""
        self.compat()
        self.latency()
        self.crossload()
        self.upgrade()
        return self.summary
