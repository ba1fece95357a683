"""Cells run in place (`matrix --wheels`), nothing installed, Keras unpacked from wheel folders: the GPU machine's mode.

Emulated here with an interpreter that has jax (CPU) and Keras' other dependencies but no Keras, namex or
optree, exactly what the GPU machine lacks; the wheels come from PyPI into a `keras-<version>/` folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import small_scenario

from harness.runner import envs

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CELLS = """
[defaults]
python = "3.11"

[[cell]]
id = "inplace-jax0.10.2-keras3.15.1"
keras = "3.15.1"
backend = "jax"
packages = ["jax==0.10.2"]
roles = ["gpu"]
default = false

[[cell]]
id = "inplace-jax0.10.2-keras3.14.1"
keras = "3.14.1"
backend = "jax"
packages = ["jax==0.10.2"]
roles = ["gpu"]
default = false
"""

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bare_python() -> Path:
    """An interpreter with jax and Keras' dependencies, without keras, namex and optree."""
    venv = ROOT / ".cache" / "inplace-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([envs.uv_binary(), "venv", "-q", "--seed", "-p", "3.11", str(venv)], check=True)
    deps = ["jax[cpu]==0.10.2", "numpy", "scipy", "absl-py", "rich", "h5py", "ml-dtypes", "packaging"]
    deps.append("typing-extensions")  # optree needs it; the GPU machine has it
    subprocess.run([envs.uv_binary(), "pip", "install", "-q", "--python", str(python), *deps], check=True)
    probe = subprocess.run([str(python), "-c", "import keras"], capture_output=True)
    assert probe.returncode != 0, "the bare interpreter must not have keras"
    return python


@pytest.fixture(scope="module")
def wheels(bare_python: Path) -> Path:
    """wheels/keras-3.15.1/ with keras, namex and optree for that interpreter (no keras-3.14.1 folder)."""
    root = ROOT / ".cache" / "wheels"
    folder = root / "keras-3.15.1"
    if not any(folder.glob("keras-3.15.1-*.whl")):
        shutil.rmtree(folder, ignore_errors=True)
        pins = ["keras==3.15.1", "namex==0.1.0", "optree==0.20.0"]
        subprocess.run(
            [
                str(bare_python),
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(folder),
                *pins,
            ],
            check=True,
        )
    return root


def rows_of(results: Path, cell: str) -> dict[str, dict[str, Any]]:
    files = list(results.glob(f"*/{cell}.jsonl"))
    return {r["case_id"]: r for f in files for r in map(json.loads, f.read_text().splitlines())}


def test_inplace_runs_cases_and_latency_from_wheels(bare_python: Path, wheels: Path, tmp_path: Path) -> None:
    (tmp_path / "cells.toml").write_text(CELLS)
    scens = small_scenario(tmp_path / "scenarios", rounds=1)
    shutil.copy(ROOT / "scenarios" / "masking-lstm.toml", scens)
    argv = [
        str(bare_python), "-m", "harness", "matrix", "--cells", str(tmp_path / "cells.toml"),
        "--scenarios", str(scens), "--wheels", str(wheels), "--results", str(tmp_path / "results"),
        "--tag", "gpu", "--case", "masking-lstm/*:.keras", "--case", "latency/*", "--device", "cpu", "--no-report",
    ]  # fmt: skip
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = rows_of(tmp_path / "results", "inplace-jax0.10.2-keras3.15.1")
    seed = {k: r for k, r in rows.items() if r["scenario"] == "masking-lstm"}
    assert len(seed) == 5 and {r["outcome"] for r in seed.values()} == {"ok"}  # Keras 3.15 loads every kind
    assert all(r["keras"] == "3.15.1" and r["backend"] == "jax" for r in seed.values())
    timed = {k: r for k, r in rows.items() if r["scenario"] == "latency"}
    assert len(timed) == 3 and all(r["outcome"] == "ok" and r["latency"]["n"] == 3 for r in timed.values())
    # no keras-3.14.1 folder: that cell's cases and latency are install failures, and it is not timed
    missing = rows_of(tmp_path / "results", "inplace-jax0.10.2-keras3.14.1")
    assert {(r["outcome"], r["failed_stage"]) for r in missing.values()} == {("fail", "install")}
    assert {r["scenario"] for r in missing.values()} == {"masking-lstm", "latency"}
    assert "keras is not installed" in next(iter(missing.values()))["error_message"]
    assert "cases: 1 cells measured, 0 reused, 1 failed; latency: 1 cells measured, 0 reused, 1 failed" in proc.stdout


def test_a_time_limit_that_has_passed_starts_no_timing_process(bare_python: Path, wheels: Path, tmp_path: Path) -> None:
    """The limit counts from the command's start; one of a millisecond has passed before any timing can start."""
    (tmp_path / "cells.toml").write_text(CELLS)
    scens = small_scenario(tmp_path / "scenarios", rounds=8)
    argv = [
        str(bare_python), "-m", "harness", "matrix", "--cells", str(tmp_path / "cells.toml"),
        "--scenarios", str(scens), "--wheels", str(wheels), "--results", str(tmp_path / "results"),
        "--cell", "inplace-jax0.10.2-keras3.15.1", "--case", "latency/*", "--device", "cpu", "--time-limit", "0.001",
        "--no-report",
    ]  # fmt: skip
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "time limit: stopped after 0 of 8 timing processes (round 1/8)" in proc.stdout
    assert "latency: 0 cells measured, 0 reused, 0 failed, 1 unfinished" in proc.stdout
    assert not rows_of(tmp_path / "results", "inplace-jax0.10.2-keras3.15.1")
