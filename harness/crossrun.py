"""Cross-version loading, parent side: every cell of the set saves, then every cell loads what all saved.

Two child processes per cell (`harness.crossload`): one saves into a private temporary folder, one loads
every folder. Rows belong to the loading cell; `saved_by` is a case parameter and the saving cell's hash
is kept in the row, so a change to either cell makes the row stale. A source that crashed or could not
import gives its loaders `skip` rows that say so; a loader that crashes gives `crash` rows.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import store
from harness.cells import Cell
from harness.scenarios import Case, Scenario
from harness.store import is_stale
from harness.supervisor import (
    STARTUP_TIMEOUT_S,
    Progress,
    Worker,
    WorkerGone,
    WorkerHung,
    base_env,
    error_of,
    lost_fields,
    make_row,
)


def stale(scen: Scenario, cells: dict[str, Cell], results: Path, machine_id: str) -> list[str]:
    """Loading cells with a missing or stale row (own hash, scenario hash, or the saving cell's hash)."""
    out = []
    for cid, cell in cells.items():
        path = store.cell_path(results, machine_id, cid)
        rows = {r["case_id"]: r for r in store.read_file(path) if r["scenario"] == scen.id} if path.exists() else {}
        for case in scen.cases():
            row = rows.get(case.case_id)
            source = cells.get(case.params["saved_by"])
            if row is None or is_stale(row, cell, scen) or source is None or row.get("saved_by_hash") != source.hash:
                out.append(cid)
                break
    return out


def _session(cell: Cell, python: str, tmp: Path, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One child: wait for ready, send the request, return {'ready': ..., 'answer': ... or 'lost': ...}."""
    worker = Worker(python, base_env(cell, tmp, []), tmp / f"{cell.id}-{request['mode']}.log", tmp, "harness.crossload")
    stage = "import"
    try:
        ready = worker.receive(STARTUP_TIMEOUT_S)
        if ready["type"] == "import_error":
            return {"ready": ready, "lost": {"outcome": "fail", "failed_stage": "import", **error_of(ready)}}
        stage = request["mode"]
        worker.send(request)
        return {"ready": ready, "answer": worker.receive(timeout)}
    except (WorkerGone, WorkerHung) as exc:
        code = worker.close(kill=True)
        return {"ready": {}, "lost": lost_fields(exc, code, stage, timeout, worker.log_tail(), "cross-load process")}
    finally:
        if worker.proc.returncode is None:
            worker.close()


def run(
    scen: Scenario,
    targets: list[tuple[Cell, str]],
    results: Path,
    machine: dict[str, Any],
    invoked_by: str,
    progress: Progress,
) -> dict[str, int]:
    """Save in every cell, load in every cell, store one row per (loader, case). Returns outcome counts."""
    combos = sorted({(c.params["mask_value"], c.params["format"]) for c in scen.cases()})
    requested = [{"mask_value": m, "format": f} for m, f in combos]
    tmp = Path(tempfile.mkdtemp(prefix="maskcompat-crossload-"))
    counts: dict[str, int] = {}
    try:
        folders: dict[str, str] = {}
        lost_sources: dict[str, dict[str, Any]] = {}
        for cell, python in targets:
            t0 = time.time()
            folder = tmp / "saved" / cell.id
            got = _session(
                cell,
                python,
                tmp,
                {"mode": "save", "dir": str(folder), "model": scen.model, "cases": requested},
                scen.timeout_s,
            )
            if "answer" in got:
                folders[cell.id] = str(folder)
                saved = sum(1 for e in got["answer"]["cases"].values() if e.get("saved"))
                progress.line(f"save {cell.id}: {saved}/{len(requested)} artifacts ({time.time() - t0:.0f}s)")
            else:
                lost_sources[cell.id] = got["lost"]
                progress.line(f"save {cell.id}: {got['lost']['outcome']} at {got['lost']['failed_stage']}")
        for cell, python in targets:
            t0 = time.time()
            got = _session(
                cell, python, tmp, {"mode": "load", "sources": folders, "tolerance": scen.tolerance}, scen.timeout_s
            )
            answers = got.get("answer", {}).get("cases", {})
            rows = []
            for case in scen.cases():
                fields = _fields(case, answers, got.get("lost"), lost_sources)
                source = next(c for c, _ in targets if c.id == case.params["saved_by"])
                outcome = fields.pop("outcome")
                fields.pop("traceback_tail", None)
                rows.append(
                    make_row(
                        cell, scen, case, got["ready"], machine, invoked_by, outcome, t0, time.time() - t0,
                        saved_by_hash=source.hash, **fields,
                    )
                )  # fmt: skip
                counts[outcome] = counts.get(outcome, 0) + 1
            store.upsert(
                store.cell_path(results, machine["id"], cell.id), rows, [(scen.id, c.case_id) for c in scen.cases()]
            )
            ok = sum(1 for r in rows if r["outcome"] == "ok")
            progress.line(f"load in {cell.id}: {ok}/{len(rows)} ok ({time.time() - t0:.0f}s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return counts


def _fields(
    case: Case, answers: dict[str, Any], loader_lost: dict[str, Any] | None, lost_sources: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Outcome and error fields of one case from the loader's answer (or why there is none)."""
    source = case.params["saved_by"]
    if source in lost_sources:
        lost = lost_sources[source]
        return {
            "outcome": "skip",
            "failed_stage": "source",
            "source_stage": lost["failed_stage"],
            "error_type": lost.get("error_type"),
            "error_message": f"{source} did not save: {lost.get('error_message')}",
        }
    if loader_lost is not None:
        return dict(loader_lost)
    key = f"{case.params['mask_value']}:{case.params['format']}:{source}"
    found = answers.get(key) or answers.get(f"*:{source}")
    if found is None:
        return {"outcome": "fail", "failed_stage": "load", "error_type": "Missing", "error_message": "no answer"}
    return dict(found)
