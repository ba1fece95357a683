"""Triage: pin specs to cells, outcome changes from stored rows, paired latency verdicts, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import small_scenario, stored_results

from harness.decl import cells
from harness.errors import UserError
from harness.tools import triage

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CELL = "tf2.21.0-keras3.15.1"


def triage_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "triage", *args], env=ENV, cwd=cwd, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("spec", "cell"),
    [
        ("tf=2.15.1", "tf2.15.1-keras2.15.0"),
        ("tf=2.19.1,keras=3.8.0", "tf2.19.1-keras3.8.0"),
        ("tf=2.21.0", "tf2.21.0-keras3.15.1"),  # several cells; the one a plain install gives
        ("tf=2.21.0,python=3.13", "py3.13-tf2.21.0-keras3.15.1"),
        ("tf_keras=2.21.0", "tf2.21.0-tfkeras2.21.0"),
        ("jax=0.10.2", "jax0.10.2-keras3.15.1"),
        ("tf2.16.2-keras3.0.5", "tf2.16.2-keras3.0.5"),
    ],
)
def test_pin_specs_name_one_cell(matrix: cells.Matrix, spec: str, cell: str) -> None:
    assert cells.resolve(spec, matrix).id == cell


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tf=2.99.0", "no cell has tf=2.99.0"),
        ("tensorflow2.15", "neither a cell id"),
        ("tf=2.15.1,numpy=2", "unknown key 'numpy'"),
        ("tf=", "is not KEY=VERSION"),
        ("keras=3.15.1", "names"),  # many cells, none preferred
    ],
)
def test_bad_specs_are_named(matrix: cells.Matrix, spec: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        cells.resolve(spec, matrix)


def _row(outcome: str, stage: str | None = None, sig: str | None = None) -> dict[str, Any]:
    return {"outcome": outcome, "failed_stage": stage, "error_signature": sig, "error_message": sig or ""}


def test_outcome_diff_sorts_changes_by_kind() -> None:
    a = {
        ("s", "breaks"): _row("ok"),
        ("s", "fixed"): _row("fail", "load", "x"),
        ("s", "other-error"): _row("fail", "load", "x"),
        ("s", "same-error"): _row("fail", "load", "x"),
        ("s", "same-ok"): _row("ok"),
        ("s", "gone"): _row("ok"),
    }
    b = {
        ("s", "breaks"): _row("fail", "predict_after_load", "y"),
        ("s", "fixed"): _row("ok"),
        ("s", "other-error"): _row("fail", "build", "z"),
        ("s", "same-error"): _row("fail", "load", "x"),
        ("s", "same-ok"): _row("ok"),
        ("s", "new"): _row("ok"),
    }
    diff = triage.outcome_diff(a, b).set_index("case")["change"].to_dict()
    assert diff == {
        "breaks": "breaks",
        "fixed": "fixed",
        "other-error": "error changed",
        "gone": "only in FROM",
        "new": "only in TO",
    }
    assert triage.exit_code(triage.outcome_diff(a, b), None) == 1
    assert triage.exit_code(triage.outcome_diff(a, a), None) == 0


def test_verdicts_need_significance_and_size() -> None:
    steady_slower = [(0.020, 0.026), (0.021, 0.0275), (0.019, 0.0245), (0.020, 0.0262), (0.022, 0.0285), (0.020, 0.026)]
    assert triage.verdict(steady_slower, 0.10)["verdict"] == "slower"
    faster = [(b, a) for a, b in steady_slower]
    assert triage.verdict(faster, 0.10)["verdict"] == "faster"
    small = [(0.020, 0.0206), (0.021, 0.0216), (0.019, 0.0196), (0.020, 0.0206), (0.022, 0.0227), (0.020, 0.0206)]
    assert triage.verdict(small, 0.10)["verdict"] == "unchanged"  # 3% slower, significant but below the threshold
    noisy = [(0.020, 0.030), (0.021, 0.019), (0.019, 0.032), (0.020, 0.018), (0.022, 0.036), (0.020, 0.021)]
    assert triage.verdict(noisy, 0.10)["verdict"] == "uncertain"
    three = steady_slower[:3]  # a signed-rank test cannot reach p < 0.05 with three pairs
    assert triage.verdict(three, 0.10)["verdict"] == "uncertain"
    assert triage.verdict([], 0.10)["verdict"] == "not measured"


def test_triage_of_stored_rows_lists_breaks_and_fixes(tmp_path: Path) -> None:
    out = tmp_path / "t.md"
    results = str(stored_results(tmp_path))  # whatever machine runs this, the committed rows are its own
    proc = triage_cli("tf=2.15.1", "tf=2.19.1,keras=3.8.0", "--no-latency", "--out", str(out), "--results", results,
                      cwd=ROOT)  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # the committed rows have cases that break
    text = out.read_text()
    assert "Cases that break" in text and "Cases that get fixed" in text
    data = json.loads(out.with_suffix(".json").read_text())
    changes = {(o["scenario"], o["case"]): o for o in data["outcomes"]}
    # Keras 2 fails to build a Masking layer with a float64 tensor; Keras 3.8 builds it and fails after loading
    seed = changes[("masking-lstm", "tensor-float64:.keras")]
    assert (seed["from"], seed["to"], seed["change"]) == (
        "fail at build",
        "fail at predict_after_load",
        "error changed",
    )
    # Files Keras 2 saved, loaded by Keras 3.8: a list mask's file loads in Keras 2 and not in Keras 3.8
    carried = {o["case"]: o for o in data["upgrade"]}
    assert carried["masking-lstm/list:.keras"]["change"] == "breaks on upgrade"
    assert "Unrecognized keyword arguments passed to LSTM" in carried["masking-lstm/list:.keras"]["error"]
    assert "## Files saved by FROM, loaded by TO" in text and "breaks on upgrade" in text
    same = triage_cli(CELL, CELL, "--no-latency", "--out", str(tmp_path / "aa.md"), "--results", results, cwd=ROOT)
    assert same.returncode == 0 and "no regression" in same.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["tf=2.99.0", CELL],
        [CELL, CELL, "--rounds", "2"],
        [CELL, CELL, "--threshold", "0"],
        [CELL, CELL, "--case", "nothing:*"],
        [CELL],
    ],
)
def test_bad_triage_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str]) -> None:
    proc = triage_cli(*args, "--out", str(tmp_path / "t.md"), cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.strip()
    assert not (tmp_path / "t.md").exists()


@pytest.mark.integration
def test_paired_latency_of_a_cell_against_itself(cell_python: Callable[[str], Path], tmp_path: Path) -> None:
    cell_python(CELL)
    scens = small_scenario(tmp_path / "scenarios")
    out = tmp_path / "aa.md"
    proc = triage_cli(
        CELL, CELL, "--scenarios", str(scens), "--results", str(tmp_path / "results"),
        "--rounds", "3", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "round 3/3 FROM" in proc.stdout and "round 3/3 TO" in proc.stdout
    data = json.loads(out.with_suffix(".json").read_text())
    verdicts = {r["case"]: r for r in data["latency"]}
    assert sorted(verdicts) == ["lstm:floor:direct", "lstm:masked:predict_on_batch", "lstm:reloaded:predict_on_batch"]
    for r in verdicts.values():
        assert r["pairs"] == 3 and r["verdict"] in ("unchanged", "uncertain")  # 3 pairs can never be significant
        assert r["from_ms"] > 0 and r["to_ms"] > 0
