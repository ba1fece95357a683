"""What every part of a matrix run shares: its options, its summary, and the run itself (where rows go, how a
cell's interpreter is found, where progress is printed). The parts (`harness.runner.parts`) plan and measure
one kind of measurement each; `harness.runner.matrix` loops over them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.decl import scenarios
from harness.decl.cells import Cell
from harness.decl.scenarios import Case, Scenario
from harness.runner import envs, saved_files
from harness.runner.envs import Interpreter
from harness.runner.progress import Progress
from harness.store import rowfiles


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
    parts: tuple[str, ...] = ()  # the parts to run by name (empty: every part, `harness.runner.parts`)
    store: Path | None = None  # where cases keep their saved files for other cells (None: the default store)
    savers: tuple[str, ...] = ()  # whose saved files the upgrade part loads (empty: every default and selected cell)
    plan_only: bool = False  # print what would be measured, measure nothing (`matrix --plan`)


@dataclass
class Summary:
    """What a run did, per part: cells measured, reused (with when and where), failed."""

    measured: dict[str, list[str]] = field(default_factory=dict)
    reused: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, list[str]] = field(default_factory=dict)
    unfinished: dict[str, list[str]] = field(default_factory=dict)
    reused_from: set[tuple[str, str]] = field(default_factory=set)  # (date, machine id) of reused rows
    notes: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # part name -> its name in the line, in the parts' order

    def add(self, kind: str, part: str, cell: str) -> None:
        """Count a cell as measured, reused, failed or unfinished in a part."""
        getattr(self, kind).setdefault(part, []).append(cell)

    def line(self) -> str:
        """One line: what was measured, reused (from when and where) and failed."""
        parts = []
        for part, name in self.labels.items():
            m, r, f, u = (len(getattr(self, k).get(part, [])) for k in ("measured", "reused", "failed", "unfinished"))
            if m or r or f or u:
                parts.append(f"{name}: {m} cells measured, {r} reused, {f} failed" + (f", {u} unfinished" if u else ""))
        when = sorted({d for d, _ in self.reused_from})
        where = sorted({mid for _, mid in self.reused_from})
        reused = f" (reused rows measured {_span(when)} on {', '.join(where)})" if when else ""
        return "; ".join(parts) + reused


def _span(days: list[str]) -> str:
    return days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"


def applicable(scen: Scenario, cell: Cell, patterns: list[str] | None) -> list[Case]:
    """The scenario's cases that apply to the cell and match the patterns (all when there are none)."""
    if not scen.applies_to(cell.id, cell.tags):
        return []
    return [c for c in scen.cases() if not patterns or scenarios.matches(c, patterns)]


def reused_from(path: Path, summary: Summary, scenario_ids: set[str]) -> None:
    """Note when and where the reused rows of a cell file were measured."""
    for row in rowfiles.read_file(path, older=True) if path.exists() else []:
        if row["scenario"] in scenario_ids:
            summary.reused_from.add((row["started_at"][:10], row["machine"]["id"]))


def machine_rows(results: Path, machine_id: str) -> list[dict[str, Any]]:
    """The cell files' rows of one machine (not the upgrade rows: the speed check needs latency only)."""
    folder = results / machine_id
    return [r for path in sorted(folder.glob("*.jsonl")) for r in rowfiles.read_file(path, older=True)]


@dataclass(frozen=True)
class PlanContext:
    """What a part plans from: the selected cells, every cell, its kind's scenarios, every scenario, the stored rows."""

    cells: list[Cell]
    all_cells: dict[str, Cell]
    scens: list[Scenario]  # the part's own kind
    every: list[Scenario]
    results: Path
    machine_id: str
    opts: Options


@dataclass
class Run:
    """One execution of a plan: where rows go, how interpreters are found, where progress is printed."""

    cells: list[Cell]
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
        return self.progress.sub(f"[{i:>2}/{len(self.cells)} {cell.id}]")

    def interpreter(self, cell: Cell) -> Interpreter:
        """The cell's interpreter (an install counts in the estimate)."""
        installed = (
            self.opts.python is not None or self.opts.wheels is not None or envs.installed(cell, self.opts.device)
        )
        interp = self.resolve(cell)
        if not installed and self.progress.estimate is not None:
            self.progress.estimate.tick("install")
        return interp

    @property
    def store(self) -> Path:
        """Where cases keep the files they save, and loading cells find them."""
        return self.opts.store or saved_files.root()
