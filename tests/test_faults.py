"""Faults really caused on a real cell: children killed mid-run (SIGSEGV from outside, a case that aborts or
segfaults its own child), a case that raises while importing, cases that hang past their timeout.

Each must become a row (`crash` / `timeout`) while the rest of the batch goes on in a new child.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CELL = "tf2.21.0-keras3.15.1"

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

pytestmark = pytest.mark.integration


def run_argv(python: Path, results: Path, *extra: str, cell: str = CELL) -> list[str]:
    """`python -m harness run` of one cell into `results`, with more arguments."""
    return [str(python), "-m", "harness", "run", "--cell", cell, "--results", str(results), *extra]


def rows_of(results: Path) -> dict[str, dict[str, Any]]:
    files = list(results.glob(f"*/{CELL}.jsonl"))
    return {r["case_id"]: r for f in files for r in map(json.loads, f.read_text().splitlines())}


def temp_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob(f"maskcompat-{CELL}-*"))


def children_of(parent: int) -> list[int]:
    """Pids of `harness.child` processes started by `parent` (they run in sessions of their own)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"harness.child" in cmdline:
            found.append(int(stat.parent.name))
    return found


def test_a_segfaulting_child_costs_one_case(cell_python: Callable[[str], Path], tmp_path: Path) -> None:
    python = cell_python(CELL)
    argv = run_argv(python, tmp_path, "--jobs", "1", "--case", "masking-lstm/*")
    proc = subprocess.Popen(argv, env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    killed = 0
    for line in proc.stdout:
        if "ready in" in line and not killed:
            for pid in children_of(proc.pid):
                os.kill(pid, signal.SIGSEGV)
                killed = pid
    assert proc.wait(timeout=600) == 0 and killed
    rows = rows_of(tmp_path)
    assert len(rows) == 10, "every case has a row"
    crashed = [r for r in rows.values() if r["outcome"] == "crash"]
    assert len(crashed) == 1 and crashed[0]["error_type"] == "WorkerCrashed"
    assert f"code {-signal.SIGSEGV}" in crashed[0]["error_message"]
    assert sum(r["outcome"] == "ok" for r in rows.values()) >= 5, "the batch went on in a new child"


def test_hanging_cases_time_out_and_the_batch_goes_on(cell_python: Callable[[str], Path], tmp_path: Path) -> None:
    python = cell_python(CELL)
    scen = tmp_path / "scenarios"
    scen.mkdir()
    text = (ROOT / "scenarios" / "masking-lstm.toml").read_text().replace("timeout_s = 180", "timeout_s = 0.01")
    (scen / "masking-lstm.toml").write_text(text)
    before = temp_folders()
    argv = run_argv(python, tmp_path / "r", "--jobs", "1", "--scenarios", str(scen), "--case", "list:*")
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = rows_of(tmp_path / "r")
    assert set(rows) == {"list:.keras", "list:.h5"}
    for row in rows.values():
        assert (row["outcome"], row["error_type"]) == ("timeout", "Timeout")
        # the stage the child had reached, or None when it had not reported one before the timeout
        assert row["failed_stage"] in (None, "build", "predict", "masking", "save", "load", "predict_after_load")
    assert temp_folders() <= before, "the run's temporary folder is removed"


def test_a_run_killed_with_sigkill_resumes_without_duplicates(
    cell_python: Callable[[str], Path], tmp_path: Path
) -> None:
    python = cell_python(CELL)
    argv = run_argv(python, tmp_path, "--jobs", "1", "--case", "masking-lstm/*")
    proc = subprocess.Popen(argv, env=ENV, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    done = 0
    for line in proc.stdout:
        done += "masking-lstm" not in line and ("ok" in line.split() or "fail@" in line)
        if done == 3:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    first = rows_of(tmp_path)
    assert 3 <= len(first) < 10, "killed mid-cell, with the finished cases stored"
    again = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    lines = next(tmp_path.glob(f"*/{CELL}.jsonl")).read_text().splitlines()
    case_ids = [json.loads(x)["case_id"] for x in lines]
    assert len(case_ids) == 10 and len(set(case_ids)) == 10, "every case once, no half-written line"
    after = rows_of(tmp_path)
    for case_id, row in first.items():
        assert after[case_id]["started_at"] == row["started_at"], "stored rows were reused, not rerun"


def test_a_stack_that_fails_to_import_is_an_import_row(tmp_path: Path) -> None:
    """A Keras 3 cell on the jax backend whose environment lacks jax: every case is `fail` at `import`."""
    cells = tmp_path / "cells.toml"
    cells.write_text('[defaults]\npython = "3.11"\n[[cell]]\nid = "no-jax"\nkeras = "3.15.1"\nbackend = "jax"\n')
    venv = ROOT / ".cache" / "envs" / "keras3.15.1-without-jax"
    uv = shutil.which("uv") or "uv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([uv, "venv", "-q", "-p", "3.11", str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "keras==3.15.1"], check=True)
    argv = run_argv(
        venv / "bin" / "python", tmp_path / "r", "--cells", str(cells), "--case", "masking-lstm/list:*", cell="no-jax"
    )
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(x) for f in (tmp_path / "r").glob("*/no-jax.jsonl") for x in f.read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert (row["outcome"], row["failed_stage"]) == ("fail", "import")
        assert "jax" in row["error_message"].lower()


FAULTS_TOML = """id = "faults"
title = "Cases that abort their child, segfault it, or raise while importing"
builder = "fault"
timeout_s = 120

[model]

[tolerance]
rtol = 1e-4
atol = 1e-5

[params]
fault = ["abort", "segfault", "raise-at-import"]
"""


def test_cases_that_abort_segfault_or_raise_at_import_cost_one_row_each(
    cell_python: Callable[[str], Path], tmp_path: Path
) -> None:
    python = cell_python(CELL)
    scen = tmp_path / "scenarios"
    scen.mkdir()
    (scen / "faults.toml").write_text(FAULTS_TOML)
    shutil.copy(ROOT / "scenarios" / "masking-lstm.toml", scen)
    before = temp_folders()
    results = tmp_path / "r"
    argv = run_argv(python, results, "--jobs", "1", "--scenarios", str(scen), "--case", "faults/*", "--case", "list:*")
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = rows_of(results)
    assert set(rows) == {"abort", "segfault", "raise-at-import", "list:.keras", "list:.h5"}
    for case, signum in (("abort", signal.SIGABRT), ("segfault", signal.SIGSEGV)):
        row = rows[case]
        assert (row["outcome"], row["failed_stage"], row["error_type"]) == ("crash", "build", "WorkerCrashed")
        assert f"code {-signum}" in row["error_message"]
    imp = rows["raise-at-import"]
    assert (imp["outcome"], imp["failed_stage"], imp["error_type"]) == ("fail", "import", "ImportError")
    assert "on purpose" in imp["error_message"]
    assert rows["list:.keras"]["outcome"] == "ok", "the batch went on in a new child"
    assert temp_folders() <= before, "the run's temporary folders are removed"
    report = tmp_path / "report.md"
    cells = ROOT / "cells" / "cells.toml"
    shown = subprocess.run(
        [sys.executable, "-m", "harness", "report", "--results", str(results), "--scenarios", str(scen),
         "--cells", str(cells), "--out", str(report), "--plots", str(tmp_path / "plots")],
        env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-2000:]
    text = report.read_text() + "".join(p.read_text() for p in sorted((tmp_path / "report").glob("*.md")))
    assert "crash" in text and "WorkerCrashed" in text and "ImportError" in text
