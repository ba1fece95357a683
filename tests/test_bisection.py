"""Bisect: which releases are probed, reuse of stored rows, a real install for a release no cell has."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import bisection, cells

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SEED = "masking-lstm/tensor-float64:.keras"


def bisect_cli(*args: str, store: Path, out: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "harness", "bisect", *args, "--store", str(store), "--out", str(out)]
    return subprocess.run(argv, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_probe_cells_reuse_matrix_cells_with_the_same_pins(matrix: cells.Matrix) -> None:
    base = matrix.get("tf2.19.1-keras3.8.0")
    assert bisection.probe_cell(base, "keras", "3.6.0", matrix).id == "tf2.19.1-keras3.6.0"
    new = bisection.probe_cell(base, "keras", "3.9.0", matrix)
    assert new.id == "bisect-py3.11-tf2.19.1-keras3.9.0" and new.pins[:2] == ["tensorflow-cpu==2.19.1", "keras==3.9.0"]
    assert bisection.probe_cell(base, "tensorflow", "2.21.0", matrix).tensorflow == "2.21.0"


def test_candidates_are_final_in_range_and_allowed(matrix: cells.Matrix) -> None:
    base = matrix.get("tf2.19.1-keras3.8.0")
    rules = bisection.rules_of(ROOT / "cells" / "cells.toml")
    versions = ["3.9.0", "3.4.1", "3.5.0", "3.10.0rc1", "3.12.0", "2.15.0", "3.11.3"]
    found, skipped = bisection.candidates(base, "keras", versions, None, "3.11.3", rules, matrix)
    assert [v for v, _ in found] == ["3.5.0", "3.9.0", "3.11.3"]  # release order, no rc, nothing past --to
    assert any(s.startswith("3.4.1: tensorflow 2.19.1 requires keras >=3.5.0") for s in skipped)
    assert any(s.startswith("2.15.0") for s in skipped)


def test_bisect_from_stored_rows_names_the_boundary(tmp_path: Path) -> None:
    out = tmp_path / "b.md"
    proc = bisect_cli(
        SEED, "--axis", "keras", "--base", "tf=2.19.1,keras=3.8.0", "--releases", "3.5.0,3.6.0,3.7.0,3.8.0,3.9.2",
        store=tmp_path / "store", out=out,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "**First keras release with the new outcome: 3.9.2**" in text
    assert "fail at predict_after_load up to 3.8.0" in text and "0 installed now" in text
    assert "3.6.0:" not in text  # binary search: 3.5.0, 3.9.2, 3.7.0, 3.8.0 only
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nothing/here", "--axis", "keras", "--releases", "3.8.0,3.9.2"], "no case named 'nothing/here'"),
        ([SEED, "--axis", "keras", "--base", "tf=2.19.1,keras=3.8.0", "--releases", "3.8.0"], "need 2"),
        ([SEED, "--axis", "keras", "--base", "tf=2.99.0", "--releases", "3.8.0,3.9.2"], "no cell has tf=2.99.0"),
    ],
)
def test_bad_bisect_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = bisect_cli(*args, store=tmp_path / "store", out=tmp_path / "b.md")
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "b.md").exists()


@pytest.mark.integration
def test_a_release_without_a_cell_is_installed_and_run(tmp_path: Path) -> None:
    out = tmp_path / "b.md"
    store = tmp_path / "store"
    args = [SEED, "--axis", "keras", "--base", "tf=2.19.1,keras=3.8.0", "--releases", "3.8.0,3.9.0"]
    proc = bisect_cli(*args, store=store, out=out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "installing tensorflow-cpu==2.19.1 keras==3.9.0" in proc.stdout
    assert "1 installed now" in out.read_text()
    assert list(store.glob("*/bisect-py3.11-tf2.19.1-keras3.9.0.jsonl"))
    again = bisect_cli(*args, store=store, out=out)  # the probe's row is reused, nothing installed
    assert again.returncode == 0 and "from earlier bisect" in again.stdout and "0 installed now" in out.read_text()
