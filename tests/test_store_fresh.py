"""Whether a stored row is current: declarations and declared handler versions, never source files.

Also: latency timed on a machine in another state (its reference loop far faster or slower) is timed again.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.decl import cells, handlers, scenarios
from harness.decl.scenarios import Scenario
from harness.runner import timing
from harness.runner.matrix import make_plan
from harness.runner.run import Options
from harness.store import fresh, rowfiles

ROOT = Path(__file__).resolve().parent.parent


def by_id(scens: list[Scenario]) -> dict[str, Scenario]:
    return {s.id: s for s in scens}


def test_a_current_row_and_each_reason_it_can_stop_being_one(
    stored_rows: list[dict[str, Any]], matrix: cells.Matrix, scens: list[Scenario]
) -> None:
    row = stored_rows[0]
    cell, scen = matrix.get(row["cell_id"]), by_id(scens)[row["scenario"]]
    assert fresh.current(row, cell, scen) and fresh.rerun_reason(row, cell, scen) is None
    assert fresh.stale_reason({**row, "cell_hash": "x"}, cell, scen) == "the cell's pins changed"
    assert fresh.stale_reason({**row, "scenario_hash": "x"}, cell, scen) == "the scenario's declaration changed"
    assert (
        fresh.stale_reason({**row, "measured_by": "cases/0"}, cell, scen)
        == f"measured by cases/0, now {handlers.CASES.tag}"
    )
    assert fresh.rerun_reason(None, cell, scen) == "no row"
    assert fresh.rerun_reason({**row, "failed_stage": "install"}, cell, scen) == "its install failed"
    assert fresh.rerun_reason({**row, "complete": False}, cell, scen) == "its timing is unfinished"
    assert fresh.current({**row, "harness_version": "9.9"}, cell, scen)  # the package version stales nothing


def test_a_cross_load_row_follows_its_saving_cell(matrix: cells.Matrix, scens: list[Scenario]) -> None:
    scen = by_id(scens)["cross-load"]
    loader, source = matrix.get(scen.cells[0]), matrix.get(scen.cells[1])
    case = scen.find(mask_value="list", format=".keras", saved_by=source.id)
    assert case is not None
    row = {"cell_hash": loader.hash, "scenario_hash": scen.hash, "measured_by": scen.measured_by,
           "params": case.params, "saved_by_hash": source.hash}  # fmt: skip
    assert fresh.current(row, loader, scen, source)
    assert fresh.stale_reason({**row, "saved_by_hash": "x"}, loader, scen, source) == "the saving cell's pins changed"


def test_to_run_lists_missing_and_stale_cases(
    tmp_path: Path, stored_rows: list[dict[str, Any]], matrix: cells.Matrix, scens: list[Scenario]
) -> None:
    row = stored_rows[0]
    cell, scen = matrix.get(row["cell_id"]), by_id(scens)[row["scenario"]]
    path = tmp_path / "c.jsonl"
    rowfiles.write_rows(path, [row], [])
    case = next(c for c in scen.cases() if c.case_id == row["case_id"])
    other = next(c for c in scen.cases() if c.case_id != row["case_id"])
    assert fresh.to_run(path, cell, [case, other], by_id(scens)) == [other]
    rowfiles.write_rows(path, [{**row, "measured_by": "cases/0"}], [])
    assert fresh.to_run(path, cell, [case], by_id(scens)) == [case]


def test_appending_a_comment_to_any_module_leaves_every_committed_row_current(tmp_path: Path) -> None:
    """A copy of the harness with a comment appended to every module judges the committed rows as the original does."""
    copy_root = tmp_path / "repo"
    shutil.copytree(ROOT / "harness", copy_root / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("cells", "scenarios"):
        shutil.copytree(ROOT / name, copy_root / name)
    for module in (copy_root / "harness").rglob("*.py"):
        module.write_text(module.read_text() + "\n# a comment appended by the test\n")
    check = """
import json, sys
from pathlib import Path
from harness.decl import cells, scenarios
from harness.store import fresh, rowfiles
root, results = Path(sys.argv[1]), Path(sys.argv[2])
matrix = cells.load(root / "cells" / "cells.toml")
scens = {s.id: s for s in scenarios.load_all(root / "scenarios")}
by = {c.id: c for c in matrix.cells}
rows = [r for r in rowfiles.read_all(results) if r["cell_id"] in by]
ok = [fresh.current(r, by[r["cell_id"]], scens[r["scenario"]], by.get(r["params"].get("saved_by", ""))) for r in rows]
print(json.dumps([len(rows), sum(ok)]))
"""
    proc = subprocess.run(
        [sys.executable, "-c", check, str(copy_root), str(ROOT / "results")],
        env={"PYTHONPATH": str(copy_root), "PATH": ""}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    total, current = json.loads(proc.stdout)
    assert total > 1000 and current == total


def test_speed_reason_needs_a_real_change() -> None:
    assert fresh.speed_reason(0.0070, 0.0072) is None
    assert fresh.speed_reason(0.0070, 0.0080) is None  # within 25%
    faster = fresh.speed_reason(0.00776, 0.00358)
    assert faster is not None and faster.startswith("this machine runs the reference loop 117% faster")
    slower = fresh.speed_reason(0.0050, 0.0100)
    assert slower is not None and "100% slower" in slower
    assert fresh.speed_reason(None, 0.005) is None


def rows_at(latency_rows: list[dict[str, Any]], ref_s: float) -> list[dict[str, Any]]:
    """The fixture's latency rows as if timed with the reference loop at `ref_s` seconds (this Python version)."""
    minor = ".".join(map(str, sys.version_info[:2]))
    out = []
    for row in copy.deepcopy(latency_rows):
        row["python"] = f"{minor}.0"
        lat = row["latency"]
        lat["vs_ref"] = {"median": 3.0, "ci95": [2.9, 3.1], "ref_s": [[ref_s] * len(s) for s in lat["samples_s"]]}
        out.append(row)
    return out


def test_latency_from_a_machine_in_another_state_is_timed_again(
    tmp_path: Path, latency_rows: list[dict[str, Any]], matrix: cells.Matrix, scens: list[Scenario]
) -> None:
    """Rows whose recorded reference speed is 3x away from this machine's now: every cell is re-timed."""
    now = timing.machine_speed_s()
    assert now is not None
    machine = latency_rows[0]["machine"]["id"]
    for factor in (3.0, 1 / 3):
        results = tmp_path / f"results-{factor:.2f}"
        for row in rows_at(latency_rows, now * factor):
            path = rowfiles.cell_path(results, machine, row["cell_id"])
            rowfiles.upsert(path, [row], [])
        assert timing.speed_check(rowfiles.read_all(results), machine) is not None
        chosen = [matrix.get(cid) for cid in sorted({r["cell_id"] for r in latency_rows})]
        plan = make_plan(chosen, {c.id: c for c in matrix.cells}, scens, results, machine, Options(parts=("latency",)))
        timed = plan.parts["latency"]
        assert timed.speed_note and timed.speed_note.startswith("this machine runs the reference loop")
        assert {c.id for c, _ in timed.todo["latency"]} == {c.id for c in chosen} and not timed.reused


def test_speed_check_needs_rows_of_this_python(latency_rows: list[dict[str, Any]]) -> None:
    rows = rows_at(latency_rows, 1.0)
    for row in rows:
        row["python"] = "2.7.18"
    assert timing.speed_check(rows, rows[0]["machine"]["id"]) is None


@pytest.fixture()
def scens() -> list[Scenario]:
    return scenarios.load_all(ROOT / "scenarios")


def test_rows_of_an_older_schema_are_stale_and_kept_until_replaced(
    tmp_path: Path, stored_rows: list[dict[str, Any]], matrix: cells.Matrix, scens: list[Scenario]
) -> None:
    first, second = (dict(r) for r in stored_rows[:2])
    for row in (first, second):
        row["schema"] = 1
        del row["measured_by"]
    path = tmp_path / "m" / "c.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    cell, scen = matrix.get(first["cell_id"]), by_id(scens)[first["scenario"]]
    assert (
        fresh.stale_reason(first, cell, scen)
        == f"measured by an older harness (results schema 1), now {handlers.CASES.tag}"
    )
    rowfiles.upsert(path, [stored_rows[0]], [])  # a new row replaces its older one; the other older row stays
    kept = {r["case_id"]: r["schema"] for r in rowfiles.read_file(path, older=True)}
    assert kept == {stored_rows[0]["case_id"]: 2, second["case_id"]: 1}
