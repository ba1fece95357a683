"""Cross-version loading, parent side: every cell of the set saves, then every cell loads what all saved.

Two children of the `crossload` handler per cell: one saves into a private temporary folder, one loads
every folder. Rows belong to the loading cell; `saved_by` is a case parameter and the saving cell's hash
is kept in the row, so a change to either cell makes the row stale. A source that crashed or could not
import gives its loaders `skip` rows that say so; a loader that is lost gives its `crash`/`timeout` rows.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.decl import caseids, scenarios
from harness.decl.cells import Cell
from harness.decl.scenarios import Case, Scenario
from harness.errors import UserError
from harness.runner import envs
from harness.runner.child import Launch, Reply, Session
from harness.runner.envs import Interpreter
from harness.runner.progress import Progress
from harness.runner.run import PlanContext, Run, reused_from
from harness.store import fresh, rowfiles
from harness.store.rows import make_row


def _ask(cell: Cell, interp: Interpreter, tmp: Path, request: dict[str, Any], timeout: float) -> Reply:
    """One child of the cell, one request."""
    session = Session(Launch(interp.python, "crossload", envs.child_env(cell, interp, tmp), tmp,
                             f"{cell.id}-{request['mode']}"))  # fmt: skip
    try:
        return session.ask(request, timeout)
    finally:
        session.close()


def run(
    scen: Scenario,
    targets: list[tuple[Cell, Interpreter]],
    results: Path,
    machine: dict[str, Any],
    invoked_by: str,
    progress: Progress,
) -> dict[str, int]:
    """Save in every cell, load in every cell, store one row per (loader, case). Returns outcome counts."""
    wanted = list(dict.fromkeys(caseids.artifact(c.params) for c in scen.cases()))
    requested = [dict(zip(("mask_value", "format"), key.split(caseids.SEP), strict=True)) for key in wanted]
    tmp = Path(tempfile.mkdtemp(prefix="maskcompat-crossload-"))
    counts: dict[str, int] = {}
    try:
        folders: dict[str, str] = {}
        lost_sources: dict[str, dict[str, Any]] = {}
        for cell, interp in targets:
            t0 = time.time()
            folder = tmp / "saved" / cell.id
            request = {"mode": "save", "dir": str(folder), "model": scen.model, "files": requested}
            reply = _ask(cell, interp, tmp, request, scen.timeout_s)
            if reply.answer is not None and reply.answer.get("outcome") != "fail":
                folders[cell.id] = str(folder)
                saved = sum(1 for e in reply.answer["files"].values() if e.get("saved"))
                progress.line(f"save {cell.id}: {saved}/{len(requested)} files ({time.time() - t0:.0f}s)")
            else:
                lost_sources[cell.id] = dict(reply.lost or reply.answer or {})
                progress.line(f"save {cell.id}: {lost_sources[cell.id].get('outcome')} at "
                              f"{lost_sources[cell.id].get('failed_stage')}")  # fmt: skip
            if progress.estimate is not None:
                progress.estimate.tick("crossload")
        for cell, interp in targets:
            t0 = time.time()
            request = {"mode": "load", "sources": folders, "tolerance": scen.tolerance}
            reply = _ask(cell, interp, tmp, request, scen.timeout_s)
            answers = (reply.answer or {}).get("sources", {})
            loader_lost = None if reply.answer is not None else {"failed_stage": "load", **(reply.lost or {})}
            if loader_lost is not None and loader_lost.get("failed_stage") is None:
                loader_lost["failed_stage"] = "load"
            rows = []
            for case in scen.cases():
                fields = _fields(case, answers, loader_lost, lost_sources)
                source = next(c for c, _ in targets if c.id == case.params["saved_by"])
                outcome = fields.pop("outcome")
                fields.pop("traceback_tail", None)
                rows.append(
                    make_row(
                        cell, scen, case, reply.ready, machine, invoked_by, outcome, t0, time.time() - t0,
                        saved_by_hash=source.hash, **fields,
                    )
                )  # fmt: skip
                counts[outcome] = counts.get(outcome, 0) + 1
            order = [(scen.id, c.case_id) for c in scen.cases()]
            rowfiles.upsert(rowfiles.cell_path(results, machine["id"], cell.id), rows, order)
            if progress.estimate is not None:
                progress.estimate.tick("crossload")
            ok = sum(1 for r in rows if r["outcome"] == "ok")
            progress.line(f"load in {cell.id}: {ok}/{len(rows)} ok ({time.time() - t0:.0f}s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return counts


def _fields(
    case: Case,
    answers: dict[str, Any],
    loader_lost: dict[str, Any] | None,
    lost_sources: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Outcome and error fields of one case from the loader's answer (or why there is none)."""
    source = case.params["saved_by"]
    if source in lost_sources:
        lost = lost_sources[source]
        return {
            "outcome": "skip",
            "failed_stage": "source",
            "source_stage": lost.get("failed_stage"),
            "error_type": lost.get("error_type"),
            "error_message": f"{source} did not save: {lost.get('error_message')}",
        }
    if loader_lost is not None:
        return dict(loader_lost)
    answer = answers.get(source, {})
    found = answer.get("failure") or answer.get("files", {}).get(caseids.artifact(case.params))
    if found is None:
        return {"outcome": "fail", "failed_stage": "load", "error_type": "Missing", "error_message": "no answer"}
    return dict(found)


NAME = "crossload"
LABEL = "cross-load"
UNIT = "cross-load processes"
PRIOR_S = 12.0  # one cross-load process


@dataclass
class Plan:
    """The cross-load sets to run, those whose rows are current, and those not run (their cells not all chosen)."""

    todo: list[Scenario] = field(default_factory=list)
    reused: list[Scenario] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    @property
    def units(self) -> int:
        """Processes: each cell of a set saves once and loads once."""
        return sum(2 * len(s.cells) for s in self.todo)


def plan(ctx: PlanContext) -> Plan:
    """The sets whose rows are not all current (all with --fresh); a set runs only with all its cells chosen."""
    out = Plan()
    chosen = {c.id for c in ctx.cells}
    for scen in ctx.scens:
        if ctx.opts.patterns and not any(scenarios.matches(c, ctx.opts.patterns) for c in scen.cases()):
            continue
        missing = [cid for cid in scen.cells if cid not in ctx.all_cells]
        if missing:
            raise UserError(f"{scen.id}: names cells the cells file does not have: {', '.join(missing)}")
        if not set(scen.cells) <= chosen:
            out.left.append(scen.id)
            continue
        one = {scen.id: scen}
        again = ctx.opts.fresh or any(
            fresh.to_run(
                rowfiles.cell_path(ctx.results, ctx.machine_id, c), ctx.all_cells[c], scen.cases(), one, ctx.all_cells
            )
            for c in scen.cells
        )
        (out.todo if again else out.reused).append(scen)
    return out


def measure(run_: Run, planned: Plan) -> None:
    """Every planned cross-load set: each cell saves, then each loads what all saved."""
    for sid in planned.left:
        run_.progress.line(f"{sid}: not run (its cells are not all selected)")
    for scen in planned.reused:
        for cid in scen.cells:
            path = rowfiles.cell_path(run_.results, run_.machine["id"], cid)
            reused_from(path, run_.summary, {scen.id})
            run_.summary.add("reused", NAME, cid)
    for scen in planned.todo:
        members = [run_.all_cells[cid] for cid in scen.cells]
        if run_.progress.estimate is not None:
            run_.progress.estimate.begin(NAME)
        run_.progress.line(f"{scen.id}: {len(members)} cells save, then each loads all ({len(scen.cases())} cases)")
        targets = [(cell, run_.interpreter(cell)) for cell in members]
        counts = run(scen, targets, run_.results, run_.machine, run_.opts.invoked, run_.progress)
        for cell in members:
            run_.summary.add("measured", NAME, cell.id)
        run_.progress.line(f"{scen.id}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if run_.progress.estimate is not None:
        run_.progress.estimate.end(NAME)
