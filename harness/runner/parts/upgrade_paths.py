"""The upgrade-paths part of a run: every file a saving cell kept, loaded by a loading cell in one child.

The files come from the saving cells' current compatibility rows (`details.saved`: the addresses in the
file store). A case that saved no file gives a `skip` row at stage `source` that says why. Files with the
same content, the same outputs to reproduce and the same route are loaded once per loading cell and give
every saving cell that shares them its row. A lost child costs only the file it was loading.
"""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.decl import caseids, scenarios, shim
from harness.decl.cells import Cell
from harness.decl.registry import build_key
from harness.decl.scenarios import Case, Scenario
from harness.runner import envs, saved_files
from harness.runner.cases import run_cell
from harness.runner.child import Launch, Session
from harness.runner.envs import Interpreter
from harness.runner.progress import Progress
from harness.runner.run import PlanContext, Run
from harness.store import fresh, rowfiles
from harness.store.rows import make_row

MESSAGE_CHARS = 600  # upgrade rows are many: an error message is kept to this length
AFTER_SAVE = ("load", "predict_after_load", "equivalence", "masking_after_load")  # a file existed by then


@dataclass(frozen=True)
class Saved:
    """One case of a saving cell: its current row and the addresses of what it saved (None: nothing)."""

    saver: Cell
    source: Scenario
    case: Case
    row: dict[str, Any]

    @property
    def saved(self) -> dict[str, Any] | None:
        """The addresses in the file store, when the case saved a file."""
        found = (self.row.get("details") or {}).get("saved")
        return dict(found) if found else None

    @property
    def unkept(self) -> bool:
        """The case saved a file but its row holds no addresses (measured without a file store): run it again."""
        if self.saved is not None or (self.row.get("details") or {}).get("saved_error"):
            return False
        stage = self.row.get("failed_stage")
        return self.row["outcome"] == "ok" or stage in AFTER_SAVE

    def upgrade_case(self, scen: Scenario) -> Case:
        """The upgrade case this file gives every loading cell."""
        source = caseids.key(self.source.id, self.case.case_id)
        params = {"source": source, "saved_by": self.saver.id}
        return Case(scen.id, caseids.upgrade(self.source.id, self.case.case_id, self.saver.id), params)

    def load_key(self) -> str:
        """Cases that load the same content the same way share one load (each compares with its own outputs)."""
        saved = self.saved or {}
        return json.dumps(
            [saved.get("file"), saved.get("name"), build_key(self.source.builder, self.source.model, self.case.params),
             self.case.params.get("route", "plain")],
            sort_keys=True,
        )  # fmt: skip

    def target(self) -> tuple[str, str | None]:
        """The outputs this saving cell's file must reproduce: (expected, masking reference) addresses."""
        saved = self.saved or {}
        return str(saved.get("expected")), saved.get("ref")


def saved_by(
    savers: list[Cell], upgrade: Scenario, scens: dict[str, Scenario], results: Path, machine_id: str
) -> list[Saved]:
    """Every case of the sources that each saving cell ran, with its current row (cases without one are left out)."""
    out = []
    for saver in savers:
        rows = fresh.rows_by_case(rowfiles.cell_path(results, machine_id, saver.id))
        for sid in upgrade.sources:
            source = scens[sid]
            if not source.applies_to(saver.id, saver.tags):
                continue
            for case in source.cases():
                row = rows.get((sid, case.case_id))
                if row is not None and fresh.rerun_reason(row, saver, source) is None:
                    out.append(Saved(saver, source, case, row))
    return out


def stale_reason(row: dict[str, Any] | None, loader: Cell, upgrade: Scenario, item: Saved) -> str | None:
    """Why the loading cell's row for this file must be measured again (None: it is current)."""
    why = fresh.rerun_reason(row, loader, upgrade, item.saver)
    if why is None and row is not None and row.get("saved") != item.saved:
        return "the saving cell saved other content"
    return why


def to_load(loader: Cell, upgrade: Scenario, items: list[Saved], results: Path, machine_id: str) -> list[Saved]:
    """The saved files whose row in the loading cell is missing or not current."""
    rows = fresh.rows_by_case(rowfiles.cell_path(results, machine_id, loader.id, "upgrade"))
    out = []
    for item in items:
        case = item.upgrade_case(upgrade)
        if stale_reason(rows.get((upgrade.id, case.case_id)), loader, upgrade, item) is not None:
            out.append(item)
    return out


def _versions(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("python", "tensorflow", "keras", "keras_flavor", "backend")}


def _row(loader: Cell, upgrade: Scenario, item: Saved, ready: dict[str, Any], machine: dict[str, Any],
         invoked: str, started: float, fields: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    fields = {k: v for k, v in fields.items() if k not in ("traceback_tail", "type", "warnings")}
    outcome = fields.pop("outcome")
    duration = float(fields.pop("duration_s", 0.0))
    for key in ("error_message", "error_cause_message"):  # the cause has a field of its own, so no cut loses it
        if fields.get(key):
            fields[key] = str(fields[key])[:MESSAGE_CHARS]
    return make_row(
        loader, upgrade, item.upgrade_case(upgrade), ready, machine, invoked, outcome, started, duration,
        saved=item.saved, saved_by_hash=item.saver.hash, saved_by_versions=_versions(item.row), **fields,
    )  # fmt: skip


def shim_fields(shimmed: dict[str, Any], target: int) -> dict[str, Any]:
    """The shim route's try on a failing file, as one saving cell's row keeps it (its comparison decides)."""
    out = {k: v for k, v in shimmed.items() if k not in ("compared", "traceback_tail", "warnings")}
    if shimmed.get("compared") is not None:
        out.update(shimmed["compared"][target])
    for key in ("error_message", "error_cause_message"):
        if out.get(key):
            out[key] = str(out[key])[:MESSAGE_CHARS]
    return out


def not_saved(item: Saved) -> dict[str, Any]:
    """The fields of a row for a case whose saving cell produced no file."""
    src = item.row
    return {
        "outcome": "skip",
        "failed_stage": "source",
        "source_stage": src.get("failed_stage"),
        "error_type": src.get("error_type"),
        "error_message": f"{item.saver.id} saved no file: {src['outcome']} at {src.get('failed_stage')}: "
        f"{src.get('error_message') or src.get('details', {}).get('saved_error') or ''}",
    }


def not_kept(item: Saved) -> dict[str, Any]:
    """The fields of a row for a case that saved a file its run did not keep (a run without a file store)."""
    return {
        "outcome": "skip",
        "failed_stage": "source",
        "error_type": "MissingFile",
        "error_message": f"{item.saver.id} saved this file in a run that did not keep it; "
        f"rerun its cases (`nox -s matrix -- --cell {item.saver.id} --fresh`)",
    }


def run(
    loader: Cell,
    interp: Interpreter,
    upgrade: Scenario,
    todo: list[Saved],
    results: Path,
    machine: dict[str, Any],
    invoked: str,
    progress: Progress,
    store: Path | None = None,
) -> dict[str, int]:
    """Load every file of `todo` in one child of the loading cell; store a row per (saving cell, case)."""
    store = store or saved_files.root()
    path = rowfiles.cell_path(results, machine["id"], loader.id, "upgrade")
    existing = list(fresh.rows_by_case(path))  # the file's own order, then the upgrade rows in case order
    order = existing + sorted((upgrade.id, item.upgrade_case(upgrade).case_id) for item in todo)
    groups: dict[str, list[Saved]] = {}
    rows: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    now = time.time()
    for item in todo:
        if item.unkept:
            rows.append(_row(loader, upgrade, item, {}, machine, invoked, now, not_kept(item)))
        elif item.saved is None:
            rows.append(_row(loader, upgrade, item, {}, machine, invoked, now, not_saved(item)))
        else:
            groups.setdefault(item.load_key(), []).append(item)
    problems = envs.problems(loader, interp)
    tmp = Path(tempfile.mkdtemp(prefix=f"maskcompat-upgrade-{loader.id}-"))
    session = Session(Launch(interp.python, "upgrade", envs.child_env(loader, interp, tmp), tmp, "upgrade"))
    try:
        for n, members in enumerate(groups.values(), 1):
            first = members[0]
            saved = first.saved or {}
            started = time.time()
            targets: list[tuple[str, str | None]] = []
            reply_fields: dict[str, Any]
            if problems:
                reply_fields = {"outcome": "fail", "failed_stage": "install", "error_type": "InstallError",
                                "error_message": "; ".join(problems)}  # fmt: skip
                ready: dict[str, Any] = {}
            elif not all(saved_files.has(m.saved or {}, store) for m in members):
                reply_fields = {"outcome": "skip", "failed_stage": "source", "error_type": "MissingFile",
                                "error_message": f"{saved.get('name')} ({saved.get('file')}) is not in the file store "
                                f"{store}; rerun the saving cell's cases to keep it again"}  # fmt: skip
                ready = {}
            else:
                targets = list(dict.fromkeys(m.target() for m in members))
                request = {
                    "file": str(saved_files.file_path(saved, store)),
                    "route": first.case.params.get("route", "plain"),
                    "builder": first.source.builder,
                    "model": first.source.model,
                    "params": first.case.params,
                    "compare": [
                        {"expected": str(saved_files.array_path(e, store)),
                         "ref": str(saved_files.array_path(r, store)) if r else None}
                        for e, r in targets
                    ],
                    "tolerance": first.source.tolerance,
                    "shim": shim.request(),
                }  # fmt: skip
                reply = session.ask(request, upgrade.timeout_s)
                ready = reply.ready
                reply_fields = dict(reply.answer) if reply.answer is not None else dict(reply.lost or {})
            compared = reply_fields.pop("compared", None)
            shimmed = reply_fields.pop("shim", None)
            for item in members:
                fields = dict(reply_fields)
                if compared is not None:  # loaded and predicted: this saving cell's own comparison decides
                    fields.update(compared[targets.index(item.target())])
                if shimmed is not None:  # the file failed, and the shim route was tried on it
                    fields["shim"] = shim_fields(shimmed, targets.index(item.target()))
                rows.append(_row(loader, upgrade, item, ready, machine, invoked, started, fields))
            if n % 25 == 0 or n == len(groups):
                progress.line(f"{n}/{len(groups)} files loaded ({len(rows)} rows)")
            if progress.estimate is not None:
                progress.estimate.tick("upgrade")
    finally:
        session.close()
        shutil.rmtree(tmp, ignore_errors=True)
    rowfiles.upsert(path, rows, order)
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    return counts


NAME = "upgrade"
LABEL = "upgrade"
UNIT = "file loads"
PRIOR_S = 0.03  # one file loaded, predicted, compared: 19,424 took 9 min 23 s on 2026-11-30, two cells at once


@dataclass
class Plan:
    """The upgrade scenario(s), the cells whose saved files are loaded, and how many loads the rows foresee."""

    scens: list[Scenario]
    savers: list[Cell]
    loads: int = 0  # files to load, as far as the current rows tell before the cases run

    @property
    def units(self) -> int:
        """Files to load."""
        return self.loads


def _matching(items: list[Saved], scen: Scenario, patterns: list[str] | None) -> list[Saved]:
    """The saved files whose upgrade case (or source case) matches the patterns (all when there are none)."""
    if not patterns:
        return items
    return [
        i for i in items if scenarios.matches(i.upgrade_case(scen), patterns) or scenarios.matches(i.case, patterns)
    ]


def plan(ctx: PlanContext) -> Plan:
    """The saving cells (`--savers`, else every default and selected cell) and the loads that are not current."""
    if ctx.opts.savers:
        savers = [ctx.all_cells[cid] for cid in ctx.opts.savers]
    else:
        savers = list(dict.fromkeys([c for c in ctx.all_cells.values() if c.default] + ctx.cells))
    out = Plan(list(ctx.scens), savers)
    by_id = {s.id: s for s in ctx.every}
    for scen in out.scens:
        items = _matching(saved_by(savers, scen, by_id, ctx.results, ctx.machine_id), scen, ctx.opts.patterns)
        for cell in ctx.cells:
            mine = items if ctx.opts.fresh else to_load(cell, scen, items, ctx.results, ctx.machine_id)
            out.loads += len({i.load_key() for i in mine if i.saved})
    return out


Work = list[tuple[int, Cell, Scenario, list[Saved]]]


def _loads(run_: Run, planned: Plan, scen: Scenario) -> tuple[list[Saved], Work]:
    """The saved files, and per loading cell those it must load (all with --fresh, else those not current)."""
    items = saved_by(planned.savers, scen, run_.scens, run_.results, run_.machine["id"])
    items = _matching(items, scen, run_.opts.patterns)
    work = []
    for i, cell in enumerate(run_.cells, 1):
        mine = items if run_.opts.fresh else to_load(cell, scen, items, run_.results, run_.machine["id"])
        if mine:
            work.append((i, cell, scen, mine))
    return items, work


def _load_in(run_: Run, job: tuple[int, Cell, Scenario, list[Saved]]) -> None:
    """One loading cell's files, in one child of it."""
    i, cell, scen, mine = job
    label = run_.label(i, cell)
    counts = run(cell, run_.interpreter(cell), scen, mine, run_.results, run_.machine, run_.opts.invoked, label,
                 run_.store)  # fmt: skip
    failed = bool(counts.get("fail")) and counts.get("fail") == sum(counts.values())
    run_.summary.add("failed" if failed else "measured", NAME, cell.id)
    label.line("upgrade: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))


def _keep_again(run_: Run, items: list[Saved]) -> bool:
    """Saved files the store lacks (another machine's rows, a cleaned cache): run their cases again to keep them."""
    missing: dict[str, dict[int, Saved]] = {}
    for item in items:  # one item appears once per loading cell that needs it
        if item.unkept or (item.saved is not None and not saved_files.has(item.saved, run_.store)):
            missing.setdefault(item.saver.id, {})[id(item)] = item
    for cid, by_id in missing.items():
        lacking = list(by_id.values())
        cell = lacking[0].saver
        run_.progress.line(f"{cid}: {len(lacking)} saved files are not in {run_.store}; running those cases again")
        scens = {i.source.id: i.source for i in lacking}
        run_cell(cell, scens, [i.case for i in lacking], run_.results, run_.machine, run_.interpreter(cell),
                 run_.progress.sub(f"[{cid}]"), invoked=run_.opts.invoked, store=run_.store)  # fmt: skip
    return bool(missing)


def measure(run_: Run, planned: Plan) -> None:
    """Every selected cell loads every file the saving cells kept (those without a current row)."""
    for scen in planned.scens:
        items, work = _loads(run_, planned, scen)
        # Only files that some cell must load need to be in the store (a fresh clone has current rows and
        # no store: it loads nothing, so it saves nothing again).
        if _keep_again(run_, [x for _, _, _, mine in work for x in mine]):
            items, work = _loads(run_, planned, scen)  # those cases' rows now hold the addresses of what they kept
        busy = {cell.id for _, cell, _, _ in work}
        for cell in run_.cells:
            if cell.id not in busy:
                run_.summary.add("reused", NAME, cell.id)
        if not work:
            continue
        n = sum(len({x.load_key() for x in mine if x.saved}) for _, _, _, mine in work)
        if run_.progress.estimate is not None:
            run_.progress.estimate.begin(NAME, n)
        run_.progress.line(
            f"{scen.id}: {len(work)} cells load the files of {len(planned.savers)} saving cells "
            f"({len(items)} saved cases, {n} loads)"
        )
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(run_.opts.jobs, len(work)))) as pool:
            list(pool.map(lambda job: _load_in(run_, job), work))
    if run_.progress.estimate is not None:
        run_.progress.estimate.end(NAME)
