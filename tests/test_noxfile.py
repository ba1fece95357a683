"""The noxfile exposes one matrix session per cell, plus the named sessions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cells import Matrix

ROOT = Path(__file__).resolve().parent.parent


def nox_list(*sessions: str) -> list[dict[str, object]]:
    nox = shutil.which("nox") or pytest.skip("nox is not installed")
    argv = [nox, "-l", "--json", "-s", *sessions]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    return list(json.loads(proc.stdout))


def test_one_matrix_session_per_cell(matrix: Matrix) -> None:
    names = {str(s["session"]) for s in nox_list("matrix", "tests", "lint", "report", "cells")}
    assert {f"matrix({c.id})" for c in matrix.cells} <= names
    assert {"tests", "lint", "report", "cells"} <= names
    assert not any(f"matrix({e.id})" in names for e in matrix.excluded)


def test_cells_session_lists_pins() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "cells", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    data = json.loads(proc.stdout)
    assert data["cells"] and all(c["pins"] for c in data["cells"])


@pytest.mark.integration
def test_a_cell_whose_pins_do_not_exist_becomes_install_rows(tmp_path: Path) -> None:
    """`tensorflow-cpu==2.99.0` does not exist: the session records `install` rows, and the report shows them."""
    nox = shutil.which("nox") or pytest.skip("nox is not installed")
    cells = tmp_path / "cells.toml"
    cells.write_text(
        '[defaults]\npython = "3.11"\n'
        '[rules.tensorflow]\n"2.99" = { keras = ">=3", python = ">=3.9", tf_keras = "<0" }\n'
        '[[cell]]\nid = "tf2.99.0-keras3.15.1"\ntensorflow = "2.99.0"\nkeras = "3.15.1"\n'
    )
    results = tmp_path / "results"
    env = {**os.environ, "MASKCOMPAT_CELLS": str(cells), "MASKCOMPAT_RESULTS": str(results)}
    proc = subprocess.run(
        [nox, "-s", "matrix(tf2.99.0-keras3.15.1)", "--", "--case", "masking-lstm/list:*"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [json.loads(x) for f in results.glob("*/*.jsonl") for x in f.read_text().splitlines()]
    assert [(r["outcome"], r["failed_stage"]) for r in rows] == [("fail", "install")] * 2
    assert "2.99.0" in rows[0]["error_message"]
    assert "✗ install" in (tmp_path / "report.md").read_text()


def run_nox(argv: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Nox with the given arguments, results pointed at an empty folder the session must not create."""
    nox = shutil.which("nox") or pytest.skip("nox is not installed")
    results = tmp_path / "results"
    env = {**os.environ, "MASKCOMPAT_RESULTS": str(results)}
    return subprocess.run([nox, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300), results


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-s", "spread"], "usage: nox -s spread -- RESULTS_A RESULTS_B"),
        (["-s", "repair"], "usage: nox -s repair -- IN.keras OUT.keras"),
        (["-s", "bench", "--", "--cell", "tf9.9.9"], "unknown cell id 'tf9.9.9'"),
        (["-s", "matrix(tf2.21.0-keras3.15.1)", "--", "--device", "tpu"], "device must be cpu, gpu or auto"),
    ],
)
def test_bad_session_arguments_abort_with_one_line(argv: list[str], message: str, tmp_path: Path) -> None:
    """Each session refuses bad arguments before it installs or writes anything."""
    proc, results = run_nox(argv, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"aborted: {message}" in out and "Traceback" not in out
    assert not results.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-s", "triage"], "usage: nox -s triage -- FROM TO"),
        (["-s", "triage", "--", "tf=2.99.0", "tf=2.21.0"], "no cell has tf=2.99.0"),
        (["-s", "triage", "--", "tf2.15.1", "--no-latency"], "usage: nox -s triage -- FROM TO"),
    ],
)
def test_bad_triage_arguments_exit_2(argv: list[str], message: str, tmp_path: Path) -> None:
    """Triage gates CI: bad input is exit code 2 (a regression is 1), even through nox."""
    proc, results = run_nox(argv, tmp_path)
    assert proc.returncode == 2
    assert f"error: {message}" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    assert not results.exists()
