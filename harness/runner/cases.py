"""One cell's compatibility cases: children of the `cases` handler, per-case timeouts, every case a row.

Cases that start from the same model go to the same child, which builds it once for all of them. A child
that crashes or hangs costs only the case it was running (`crash` / `timeout` row with the stage reached);
the next case gets a new child. Each row is stored the moment its case ends.
"""

from __future__ import annotations

import concurrent.futures
import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from harness.decl.cells import Cell
from harness.decl.registry import build_key
from harness.decl.scenarios import Case, Scenario
from harness.runner import envs
from harness.runner.child import Launch, Session
from harness.runner.envs import Interpreter
from harness.runner.progress import Progress
from harness.store import rowfiles
from harness.store.rows import ERROR_KEYS, make_row

ROW_KEYS = ("stage_s", "details", "warnings", "traceback_tail")


class CellRun:
    """State shared by the children of one cell run."""

    def __init__(
        self,
        cell: Cell,
        scens: dict[str, Scenario],
        cases: list[Case],
        results: Path,
        machine: dict[str, Any],
        invoked_by: str,
        progress: Progress,
        interp: Interpreter,
        jobs: int = 1,
        store: Path | None = None,
    ) -> None:
        self.cell, self.scens, self.cases = cell, scens, cases
        self.store = store
        self.path = rowfiles.cell_path(results, machine["id"], cell.id)
        self.order = [(s.id, c.case_id) for s in scens.values() for c in s.cases()]
        self.machine, self.invoked_by, self.progress, self.interp = machine, invoked_by, progress, interp
        self.jobs = max(1, min(jobs, len(self.groups())))
        self.lock = threading.Lock()
        self.said_ready = False
        self.done = 0
        self.counts: dict[str, int] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix=f"maskcompat-{cell.id}-"))

    def row(self, case: Case, ready: dict[str, Any], outcome: str, started: float, **fields: Any) -> dict[str, Any]:
        """A complete result row for one case."""
        duration = fields.pop("duration_s", time.time() - started)
        scen = self.scens[case.scenario]
        return make_row(
            self.cell, scen, case, ready, self.machine, self.invoked_by, outcome, started, duration, **fields
        )

    def record(self, case: Case, row: dict[str, Any]) -> None:
        """Store the row at once and print its progress line."""
        with self.lock:
            rowfiles.upsert(self.path, [row], self.order)
            self.done += 1
            self.counts[row["outcome"]] = self.counts.get(row["outcome"], 0) + 1
        if self.progress.estimate is not None:
            self.progress.estimate.tick("compat")
        verdict = row["outcome"] if row["outcome"] == "ok" else f"{row['outcome']}@{row['failed_stage']}"
        detail = f" {row['error_type']}" if row.get("error_type") else ""
        self.progress.line(f"{case.case_id:<24} {verdict:<28}{detail} ({row['duration_s']:.1f}s)")

    def _ready_line(self, session: Session) -> None:
        with self.lock:
            if self.said_ready or session.ready.get("type") != "ready":
                return
            self.said_ready = True
        v = session.ready["versions"]
        self.progress.line(
            f"ready in {session.started_s:.1f}s: "
            + ", ".join(f"{k} {v[k]}" for k in sorted(v))
            + f", device {session.ready['device']}"
        )

    def run_one(self, session: Session, case: Case) -> dict[str, Any]:
        """One case on the session's child; its row."""
        scen = self.scens[case.scenario]
        workdir = Path(tempfile.mkdtemp(prefix="case-", dir=self.tmp))
        started = time.time()
        request = {
            "case_id": case.case_id,
            "builder": scen.builder,
            "model": scen.model,
            "tolerance": scen.tolerance,
            "params": case.params,
            "workdir": str(workdir),
            "store": str(self.store) if self.store else None,
        }
        try:
            reply = session.ask(request, scen.timeout_s)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        self._ready_line(session)
        if reply.answer is None:
            lost = dict(reply.lost or {})
            return self.row(case, reply.ready, lost.pop("outcome", "crash"), started, **lost)
        msg = reply.answer
        fields = {k: msg.get(k) for k in ERROR_KEYS}
        extra = {k: msg[k] for k in ROW_KEYS if k in msg}
        return self.row(case, reply.ready, msg["outcome"], started, duration_s=msg["duration_s"], **fields, **extra)

    def slot(self, slot: int, todo: queue.Queue[list[Case]]) -> None:
        """One child: take groups of cases until none are left."""
        env = envs.child_env(self.cell, self.interp, self.tmp)
        session = Session(Launch(self.interp.python, "cases", env, self.tmp, f"child-{slot}"))
        try:
            while True:
                try:
                    group = todo.get_nowait()
                except queue.Empty:
                    return
                for case in group:
                    self.record(case, self.run_one(session, case))
        finally:
            session.close()

    def groups(self) -> list[list[Case]]:
        """Cases that start from the same model, together, so one child builds it once for all of them."""
        by_key: dict[str, list[Case]] = {}
        for case in self.cases:
            scen = self.scens[case.scenario]
            by_key.setdefault(build_key(scen.builder, scen.model, case.params), []).append(case)
        return list(by_key.values())

    def run(self) -> dict[str, int]:
        """Run all cases over `jobs` children; returns the count of each outcome."""
        try:
            todo: queue.Queue[list[Case]] = queue.Queue()
            for group in self.groups():
                todo.put(group)
            with concurrent.futures.ThreadPoolExecutor(max_workers=self.jobs) as pool:
                for slot in [pool.submit(self.slot, i, todo) for i in range(self.jobs)]:
                    slot.result()  # a failure of the parent's own code surfaces here
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return self.counts

    def record_install_failure(self, problems: list[str], install_log: str) -> dict[str, int]:
        """Every case becomes a `fail` row at stage `install`, carrying the installer's message."""
        message = "; ".join(problems)
        if install_log:
            message += "\n--- installer output (end) ---\n" + install_log[-2500:]
        now = time.time()
        rows = [
            self.row(c, {}, "fail", now, duration_s=0.0, failed_stage="install", error_type="InstallError",
                     error_message=message)
            for c in self.cases
        ]  # fmt: skip
        rowfiles.upsert(self.path, rows, self.order)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.progress.estimate is not None:
            self.progress.estimate.tick("compat", len(rows))
        self.progress.line(f"install failed: {problems[0]}")
        return {"fail": len(rows)}


def run_cell(
    cell: Cell,
    scens: dict[str, Scenario],
    cases: list[Case],
    results: Path,
    machine: dict[str, Any],
    interp: Interpreter,
    progress: Progress,
    *,
    jobs: int = 1,
    invoked: str = "",
    store: Path | None = None,
) -> dict[str, int]:
    """Run the cell's given cases (or record why its interpreter cannot) and store a row per case.

    With a `store`, every file a case saves is kept there for other cells to load (the upgrade question).
    """
    run = CellRun(cell, scens, cases, results, machine, invoked, progress, interp, jobs, store)
    problems = envs.problems(cell, interp)
    t0 = time.time()
    if problems:
        counts = run.record_install_failure(problems, envs.install_log(interp))
    else:
        progress.line(f"{len(cases)} cases, {run.jobs} child(ren) in {interp.how}")
        counts = run.run()
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    progress.line(f"done in {time.time() - t0:.0f}s: {summary} -> {run.path}")
    return counts
