"""Real pinned cells: install them with uv, run the seed cases through the runner, check stage outcomes.

One release is known to fail the seed case (Keras 3.1.1 loads a `.keras` file whose Masking config holds the
tagged `__tensor__` dict and predict fails), one is known to pass it (Keras 3.15.1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CellPython = Callable[[str], Path]

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.integration


def run_cases(python: Path, cell_id: str, results: Path, *cases: str) -> dict[str, dict[str, Any]]:
    """Run the named seed cases of one cell through `python -m harness run`; rows by case id."""
    argv = [str(python), "-m", "harness", "run", "--cell", cell_id, "--results", str(results)]
    for case in cases:
        argv += ["--case", case]
    proc = subprocess.run(
        argv, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = list(results.glob(f"*/{cell_id}.jsonl"))
    assert len(files) == 1
    return {r["case_id"]: r for r in map(json.loads, files[0].read_text().splitlines())}


def test_keras_3_1_fails_the_seed_case_at_predict_after_load(cell_python: CellPython, tmp_path: Path) -> None:
    rows = run_cases(
        cell_python("tf2.16.2-keras3.1.1"),
        "tf2.16.2-keras3.1.1",
        tmp_path,
        "masking-lstm/tensor-float64:.keras",
        "masking-lstm/list:.keras",
    )
    bad, good = rows["tensor-float64:.keras"], rows["list:.keras"]
    assert (bad["outcome"], bad["failed_stage"]) == ("fail", "predict_after_load")
    assert "__tensor__" in bad["error_message"] and "__tensor__" in bad["error_signature"]
    assert bad["stage_s"].keys() >= {"build", "predict", "save", "load"}
    assert (good["outcome"], good["failed_stage"]) == ("ok", None)
    assert good["details"]["max_abs_diff"] <= 1e-6
    for row in rows.values():
        assert (row["tensorflow"], row["keras"], row["keras_flavor"], row["device"]) == (
            "2.16.2",
            "3.1.1",
            "keras3",
            "cpu",
        )


def test_keras_3_15_passes_the_seed_case(cell_python: CellPython, tmp_path: Path) -> None:
    rows = run_cases(
        cell_python("tf2.21.0-keras3.15.1"), "tf2.21.0-keras3.15.1", tmp_path, "masking-lstm/tensor-float64:.keras"
    )
    row = rows["tensor-float64:.keras"]
    assert (row["outcome"], row["failed_stage"], row["error_type"]) == ("ok", None, None)
    assert row["stage_s"].keys() == {
        "build",
        "predict",
        "masking",
        "save",
        "load",
        "predict_after_load",
        "equivalence",
        "masking_after_load",
    }


def test_a_rerun_reuses_rows(cell_python: CellPython, tmp_path: Path) -> None:
    python = cell_python("tf2.21.0-keras3.15.1")
    first = run_cases(python, "tf2.21.0-keras3.15.1", tmp_path, "masking-lstm/float:.h5")
    again = run_cases(python, "tf2.21.0-keras3.15.1", tmp_path, "masking-lstm/float:.h5")
    assert first == again


def test_missing_pins_become_install_rows(tmp_path: Path) -> None:
    """Running a cell in an interpreter without its pins records `install` failures instead of running."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "run",
            "--cell",
            "tf2.12.1-keras2.12.0",
            "--results",
            str(tmp_path),
            "--case",
            "masking-lstm/list:*",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for f in tmp_path.glob("*/*.jsonl") for x in f.read_text().splitlines()]
    assert [(r["outcome"], r["failed_stage"], r["error_type"]) for r in rows] == [
        ("fail", "install", "InstallError")
    ] * 2
    assert "tensorflow-cpu is not installed" in rows[0]["error_message"]


def test_unknown_cell_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", "--cell", "tf9.9.9", "--results", str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown cell id(s) ['tf9.9.9']") and "Traceback" not in proc.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--cell", "tf2.21.0-keras3.15.1", "--jobs", "0"], "error: --jobs must be at least 1"),
        (["run", "--cell", "tf2.21.0-keras3.15.1", "--case", "nothing*"], "error: no case matches"),
        (["report", "--results", "/nonexistent/results"], "error: results folder /nonexistent/results does not exist"),
        (["repair", "/nonexistent.keras", "out.keras"], "error: /nonexistent.keras: no such file"),
        (["run", "--cell", "tf2.21.0-keras3.15.1", "--device", "tpu"], "error: device must be cpu, gpu or auto"),
        (["bench", "--cell", "tf2.21.0-keras3.15.1", "--python", "/no/python"], "error: interpreter /no/python does"),
        (["bench", "--cell", "nocell"], "error: unknown cell id(s) ['nocell']"),
        (["matrix", "--wheels", "/no/wheels"], "error: wheel folder /no/wheels does not exist"),
        (["matrix", "--tag", "none"], "error: no cell has tag(s) ['none']"),
        (["matrix", "--jobs", "0"], "error: --jobs must be at least 1"),
        (["matrix", "--time-limit", "-5"], "error: --time-limit must be seconds"),
        (["spread", "/no/a", "/no/b"], "error: results folder /no/a does not exist"),
    ],
)
def test_bad_arguments_are_one_line_exit_2(argv: list[str], message: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", *argv],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(message) and len(proc.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir()), "nothing written"


@pytest.mark.parametrize(
    "command",
    [
        "run",
        "matrix",
        "bench",
        "diff",
        "spread",
        "report",
        "repair",
        "cells",
        "triage",
        "bisect",
        "check",
        "crossload",
        "merge",
        "ci-matrix",
    ],
)
def test_every_command_has_help(command: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", command, "--help"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "usage: python -m harness" in proc.stdout


def test_cases_run_without_any_network(cell_python: CellPython, tmp_path: Path) -> None:
    """Only installs need the network: a cell's cases run in a network namespace with no interface but lo."""
    python = cell_python("tf2.21.0-keras3.15.1")
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine does not allow a private network namespace (unshare -rn)")
    argv = [
        "unshare", "-rn", str(python), "-m", "harness", "run", "--cell", "tf2.21.0-keras3.15.1",
        "--results", str(tmp_path), "--case", "masking-lstm/*.keras", "--case", "workarounds/repair:*",
    ]  # fmt: skip
    proc = subprocess.run(argv, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for f in tmp_path.glob("*/*.jsonl") for line in f.read_text().splitlines()]
    assert len(rows) == 8 and all(r["failed_stage"] not in ("install", "import") for r in rows)
    assert sum(r["outcome"] == "ok" for r in rows) >= 5
