"""The upgrade pass over a fake child (a script that speaks the protocol; no framework): which files are
loaded once for several saving cells, how every (saving cell, case) gets its row, and what stays current."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import write_fake_python

from harness.decl import cells, scenarios
from harness.decl.scenarios import Scenario
from harness.runner import envs
from harness.runner.parts import upgrade_paths as upgrade
from harness.runner.progress import Progress
from harness.store import rowfiles

ROOT = Path(__file__).resolve().parent.parent
LOADER = "tf2.21.0-keras3.15.1"
SAVERS = ("tf2.16.2-keras3.0.5", "tf2.17.1-keras3.15.1", "tf2.19.1-keras3.8.0")

FAKE = """#!{python}
import json, os, sys
reply = os.fdopen(int(os.environ["MASKCOMPAT_RESULT_FD"]), "w")
def send(msg):
    reply.write(json.dumps(msg) + "\\n"); reply.flush()
send({{"type": "ready", "versions": {{"keras": "3.15.1"}}, "python": "3.11.7", "device": "cpu"}})
log = open(os.environ["FAKE_LOG"], "a")
for line in sys.stdin:
    req = json.loads(line)
    log.write(line); log.flush()
    if req["file"].endswith("broken.keras"):  # it fails as saved; the shim's copy loads and matches
        shim = {{"outcome": "ok", "failed_stage": None, "changes": ["LSTM `lstm`: dropped `time_major` = false"],
                "compared": [{{"outcome": "ok", "failed_stage": None, "details": {{"max_abs_diff": 0.0}}}}
                             for t in req["compare"]]}}
        send({{"type": "result", "outcome": "fail", "failed_stage": "load", "error_type": "TypeError",
               "error_message": "cannot load it", "stage_s": {{}}, "duration_s": 0.1, "shim": shim}})
        continue
    compared = [{{"outcome": "ok" if "good" in t["expected"] else "mismatch", "failed_stage": None, "details": {{}}}}
                for t in req["compare"]]
    send({{"type": "result", "outcome": "ok", "failed_stage": None, "stage_s": {{}}, "compared": compared,
           "duration_s": 0.1}})
"""


@pytest.fixture()
def fake_python(tmp_path: Path) -> str:
    return write_fake_python(tmp_path, FAKE)


def saver_row(
    cell: cells.Cell, scen: Scenario, case_id: str, saved: dict[str, Any] | None, **over: Any
) -> dict[str, Any]:
    row = {
        "schema": 2, "measured_by": scen.measured_by, "scenario": scen.id, "scenario_hash": scen.hash,
        "cell_id": cell.id, "cell_hash": cell.hash, "case_id": case_id, "params": {}, "outcome": "ok",
        "failed_stage": None, "error_type": None, "error_message": None, "details": {"saved": saved} if saved else {},
        "python": cell.python, "tensorflow": cell.tensorflow, "keras": cell.keras, "keras_flavor": cell.flavor,
        "backend": cell.backend,
    }  # fmt: skip
    return {**row, **over}


def store_entry(store: Path, file: str, name: str, expected: str) -> dict[str, Any]:
    (store / "files" / file).mkdir(parents=True, exist_ok=True)
    (store / "files" / file / name).write_text("a model")
    (store / "arrays").mkdir(parents=True, exist_ok=True)
    (store / "arrays" / f"{expected}.npy").write_text("outputs")
    return {"file": file, "name": name, "expected": expected, "ref": None}


def items(matrix: cells.Matrix, scens: list[Scenario], store: Path) -> tuple[Scenario, list[upgrade.Saved]]:
    """Three saving cells of the seed's `list:.keras`: two saved the same content (other outputs), one broken;
    and `tensor-float64:.h5`, which none of them could save."""
    seed = next(s for s in scens if s.id == "masking-lstm")
    up = next(s for s in scens if s.handler == "upgrade")
    a, b, c = (matrix.get(x) for x in SAVERS)
    same = store_entry(store, "f-shared", "model.keras", "good-a")
    other_outputs = {**store_entry(store, "f-shared", "model.keras", "bad-b")}
    broken = store_entry(store, "f-broken", "broken.keras", "good-c")
    case = seed.find(mask_value="list", format=".keras")
    h5 = seed.find(mask_value="tensor-float64", format=".h5")
    assert case is not None and h5 is not None
    out = [
        upgrade.Saved(a, seed, case, saver_row(a, seed, case.case_id, same)),
        upgrade.Saved(b, seed, case, saver_row(b, seed, case.case_id, other_outputs)),
        upgrade.Saved(c, seed, case, saver_row(c, seed, case.case_id, broken)),
        upgrade.Saved(a, seed, h5, saver_row(a, seed, h5.case_id, None, outcome="fail", failed_stage="save",
                                             error_type="TypeError", error_message="Unable to serialize")),
    ]  # fmt: skip
    return up, out


def test_one_load_per_content_and_a_row_per_saving_cell(
    tmp_path: Path, fake_python: str, matrix: cells.Matrix, scens: list[Scenario], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, results, log = tmp_path / "store", tmp_path / "results", tmp_path / "requests.jsonl"
    monkeypatch.setattr(envs, "PASSED_ENV", (*envs.PASSED_ENV, "FAKE_LOG"))
    monkeypatch.setattr(envs, "problems", lambda cell, interp: [])  # the fake child has no pins to check
    monkeypatch.setenv("FAKE_LOG", str(log))
    up, saved = items(matrix, scens, store)
    loader = matrix.get(LOADER)
    interp = envs.Interpreter(fake_python, (), (), "a fake child")
    machine = {"id": "m"}
    counts = upgrade.run(loader, interp, up, saved, results, machine, "test", Progress("[t]"), store)
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(requests) == 2  # the shared content once, the broken file once; the unsaved case not at all
    shared = next(r for r in requests if r["file"].endswith("model.keras"))
    assert [Path(t["expected"]).stem for t in shared["compare"]] == ["good-a", "bad-b"]
    rows = {(r["params"]["saved_by"], r["params"]["source"]): r for r in rowfiles.read_file(
        rowfiles.cell_path(results, "m", loader.id, "upgrade"))}  # fmt: skip
    assert counts == {"ok": 1, "mismatch": 1, "fail": 1, "skip": 1}
    assert rows[(SAVERS[0], "masking-lstm/list:.keras")]["outcome"] == "ok"
    assert rows[(SAVERS[1], "masking-lstm/list:.keras")]["outcome"] == "mismatch"  # its own outputs decide
    broken = rows[(SAVERS[2], "masking-lstm/list:.keras")]
    assert (broken["outcome"], broken["failed_stage"], broken["error_type"]) == ("fail", "load", "TypeError")
    assert broken["shim"] == {"outcome": "ok", "failed_stage": None, "details": {"max_abs_diff": 0.0},
                              "changes": ["LSTM `lstm`: dropped `time_major` = false"]}  # fmt: skip
    assert all(r["shim"]["drop"] and r["shim"]["rename"] for r in requests)  # the declared table, to every load
    assert "shim" not in rows[(SAVERS[0], "masking-lstm/list:.keras")]
    unsaved = rows[(SAVERS[0], "masking-lstm/tensor-float64:.h5")]
    assert (unsaved["outcome"], unsaved["failed_stage"], unsaved["source_stage"]) == ("skip", "source", "save")
    assert "saved no file" in unsaved["error_message"]
    for row in rows.values():
        assert row["scenario"] == "upgrade" and row["measured_by"] == "upgrade/3" and row["cell_id"] == loader.id
        assert row["saved_by_hash"] == matrix.get(row["params"]["saved_by"]).hash
        assert row["case_id"] == f"{row['params']['source']}@{row['params']['saved_by']}"
    # Nothing changed: nothing to load. Another file saved by one cell: only its row is measured again.
    assert upgrade.to_load(loader, up, saved, results, "m") == []
    moved = [
        saved[0],
        upgrade.Saved(
            saved[1].saver,
            saved[1].source,
            saved[1].case,
            {**saved[1].row, "details": {"saved": {**saved[1].saved, "file": "f-new"}}},
        ),
    ]  # type: ignore[dict-item]
    assert [i.saver.id for i in upgrade.to_load(loader, up, moved, results, "m")] == [SAVERS[1]]


def test_a_file_the_store_lacks_is_a_row_that_says_so(
    tmp_path: Path, fake_python: str, matrix: cells.Matrix, scens: list[Scenario], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, results = tmp_path / "store", tmp_path / "results"
    monkeypatch.setattr(envs, "PASSED_ENV", (*envs.PASSED_ENV, "FAKE_LOG"))
    monkeypatch.setattr(envs, "problems", lambda cell, interp: [])
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "requests.jsonl"))
    up, saved = items(matrix, scens, store)
    (store / "files" / "f-broken" / "broken.keras").unlink()
    interp = envs.Interpreter(fake_python, (), (), "a fake child")
    upgrade.run(matrix.get(LOADER), interp, up, saved[2:3], results, {"id": "m"}, "test", Progress("[t]"), store)
    (row,) = rowfiles.read_file(rowfiles.cell_path(results, "m", LOADER, "upgrade"))
    assert (row["outcome"], row["failed_stage"], row["error_type"]) == ("skip", "source", "MissingFile")
    assert "not in the file store" in row["error_message"]


@pytest.fixture()
def scens() -> list[Scenario]:
    return scenarios.load_all(ROOT / "scenarios")


@pytest.mark.integration
def test_real_cells_save_and_load_each_other_s_files(tmp_path: Path) -> None:
    """Keras 3.1.1 and 3.15.1 save the seed's files; each loads both cells' files; a rerun loads nothing."""
    import os
    import subprocess

    old, new = "tf2.16.2-keras3.1.1", "tf2.21.0-keras3.15.1"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASKCOMPAT_FILES": str(tmp_path / "store")}
    argv = [
        sys.executable, "-m", "harness", "matrix", "--results", str(tmp_path / "results"), "--no-report",
        "--part", "compat", "--part", "upgrade", "--cell", old, "--cell", new, "--case", "masking-lstm/*",
    ]  # fmt: skip
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "upgrade: 2 cells measured" in proc.stdout

    def rows(loader: str) -> dict[tuple[str, str], dict[str, Any]]:
        found = rowfiles.read_file(rowfiles.cell_path(tmp_path / "results", next(
            p.name for p in (tmp_path / "results").iterdir()), loader, "upgrade"))  # fmt: skip
        return {(r["params"]["saved_by"], r["params"]["source"]): r for r in found}

    in_new, in_old = rows(new), rows(old)
    assert len(in_new) == len(in_old) == 20  # 2 saving cells x 10 seed cases
    # The fix is on the loading side: Keras 3.15 loads 3.1.1's tensor mask file and predicts the same ...
    assert in_new[(old, "masking-lstm/tensor-float64:.keras")]["outcome"] == "ok"
    # ... while 3.1.1 fails on its own file after loading, as in its compatibility row
    own = in_old[(old, "masking-lstm/tensor-float64:.keras")]
    assert (own["outcome"], own["failed_stage"]) == ("fail", "predict_after_load")
    unsaved = in_new[(new, "masking-lstm/tensor-float64:.h5")]
    assert (unsaved["outcome"], unsaved["failed_stage"]) == ("skip", "source")
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "upgrade: 0 cells measured, 2 reused" in again.stdout
