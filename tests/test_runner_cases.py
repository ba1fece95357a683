"""A cell's cases over a fake child (a script that speaks the protocol; no framework): every case is a row.

A case that crashes its child or hangs becomes a `crash` / `timeout` row and the batch goes on in a new
child; a stack that does not import makes every case an `import` row; all rows are stored as they end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import write_fake_python

from harness.decl import cells, handlers, scenarios
from harness.runner import envs
from harness.runner.cases import CellRun
from harness.runner.progress import Progress
from harness.store import rowfiles

FAKE = """#!{python}
import json, os, signal, sys, time
reply = os.fdopen(int(os.environ["MASKCOMPAT_RESULT_FD"]), "w")
def send(msg):
    reply.write(json.dumps(msg) + "\\n"); reply.flush()
if os.environ.get("FAKE_IMPORT") == "fail":
    send({{"type": "import_error", "versions": {{}}, "error_type": "ImportError", "error_message": "no keras here"}})
    sys.exit(3)
send({{"type": "ready", "versions": {{"keras": "3.15.1", "tensorflow-cpu": "2.21.0"}}, "python": "3.11.7",
       "device": "cpu"}})
for line in sys.stdin:
    req = json.loads(line)
    send({{"type": "stage", "name": "save"}})
    kind = req["params"]["mask_value"]
    if kind == "numpy":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "float":
        time.sleep(3600)
    send({{"type": "result", "outcome": "ok", "failed_stage": None, "stage_s": {{"save": 0.1}}, "details": {{}},
           "duration_s": 0.1, "warnings": []}})
"""


@pytest.fixture()
def fake_python(tmp_path: Path) -> str:
    return write_fake_python(tmp_path, FAKE)


def seed(tmp_path: Path, timeout_s: float) -> scenarios.Scenario:
    root = Path(__file__).resolve().parent.parent
    text = (root / "scenarios" / "masking-lstm.toml").read_text().replace("timeout_s = 180", f"timeout_s = {timeout_s}")
    text = text.replace('format = [".keras", ".h5"]', 'format = [".keras"]')
    (tmp_path / "masking-lstm.toml").write_text(text)
    return scenarios.parse(tmp_path / "masking-lstm.toml")


def run(tmp_path: Path, fake_python: str, matrix: cells.Matrix) -> list[dict[str, Any]]:
    scen = seed(tmp_path, 3)
    cell = matrix.get("tf2.21.0-keras3.15.1")
    interp = envs.Interpreter(fake_python, (), (), "a fake child")
    machine = {"id": "test-machine"}
    run = CellRun(cell, {scen.id: scen}, scen.cases(), tmp_path / "results", machine, "test", Progress("[t]"), interp)
    counts = run.run()
    rows = rowfiles.read_file(rowfiles.cell_path(tmp_path / "results", "test-machine", cell.id))
    assert sum(counts.values()) == len(rows) == len(scen.cases())
    return rows


def test_crashes_and_hangs_cost_one_case_each(tmp_path: Path, fake_python: str, matrix: cells.Matrix) -> None:
    rows = {r["case_id"]: r for r in run(tmp_path, fake_python, matrix)}
    crash, hang = rows["numpy:.keras"], rows["float:.keras"]
    assert (crash["outcome"], crash["failed_stage"], crash["error_type"]) == ("crash", "save", "WorkerCrashed")
    assert "code -11" in crash["error_message"] and crash["error_signature"].startswith("save: WorkerCrashed")
    assert (hang["outcome"], hang["failed_stage"], hang["error_type"]) == ("timeout", "save", "Timeout")
    others = [r for k, r in rows.items() if k not in ("numpy:.keras", "float:.keras")]
    assert others and all(r["outcome"] == "ok" for r in others)  # the batch went on in new children
    assert all(r["keras"] == "3.15.1" and r["measured_by"] == handlers.CASES.tag for r in rows.values())


def test_a_stack_that_does_not_import_makes_every_case_an_import_row(
    tmp_path: Path, fake_python: str, matrix: cells.Matrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(envs, "PASSED_ENV", (*envs.PASSED_ENV, "FAKE_IMPORT"))
    monkeypatch.setenv("FAKE_IMPORT", "fail")
    rows = run(tmp_path, fake_python, matrix)
    assert {(r["outcome"], r["failed_stage"], r["error_type"]) for r in rows} == {("fail", "import", "ImportError")}
    assert all(r["error_message"] == "no keras here" for r in rows)


def test_rows_are_stored_as_json_lines_in_case_order(tmp_path: Path, fake_python: str, matrix: cells.Matrix) -> None:
    run(tmp_path, fake_python, matrix)
    path = rowfiles.cell_path(tmp_path / "results", "test-machine", "tf2.21.0-keras3.15.1")
    ids = [json.loads(line)["case_id"] for line in path.read_text().splitlines()]
    assert ids == [c.case_id for c in scenarios.parse(tmp_path / "masking-lstm.toml").cases()]
