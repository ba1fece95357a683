"""Latency runs on a real cell: rows with raw samples and statistics, reuse, an interrupted run, a lost import.

The scenario is the project's own `latency.toml` with fewer cases and samples, so the test stays short.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import small_scenario

ROOT = Path(__file__).resolve().parent.parent
CELL = "tf2.21.0-keras3.15.1"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

pytestmark = pytest.mark.integration


def bench_argv(scens: Path, results: Path, env_python: Path | str) -> list[str]:
    return [
        sys.executable, "-m", "harness", "bench", "--scenarios", str(scens), "--results", str(results),
        "--env", f"{CELL}={env_python}",
    ]  # fmt: skip


def rows_of(results: Path) -> dict[str, dict[str, Any]]:
    files = list(results.glob(f"*/{CELL}.jsonl"))
    return {r["case_id"]: r for f in files for r in map(json.loads, f.read_text().splitlines())}


def test_bench_stores_samples_statistics_and_reuses_them(cell_python: Callable[[str], Path], tmp_path: Path) -> None:
    python = cell_python(CELL)
    scens = small_scenario(tmp_path / "scenarios")
    proc = subprocess.run(bench_argv(scens, tmp_path / "results", python), env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "round 2/2" in proc.stdout
    rows = rows_of(tmp_path / "results")
    assert sorted(rows) == ["lstm:floor:direct", "lstm:masked:predict_on_batch", "lstm:reloaded:predict_on_batch"]
    for row in rows.values():
        assert row["outcome"] == "ok" and row["complete"] is True and row["device"] == "cpu"
        lat = row["latency"]
        assert lat["processes"] == 2 and lat["n"] == 6 and len(lat["samples_s"]) == 2
        assert lat["q1_s"] <= lat["median_s"] <= lat["q3_s"] and 0 < lat["median_s"] < 5
        assert row["threads"]["OMP_NUM_THREADS"] == "1" and len(row["threads"]["cpus"]) == 1
        assert len(row["reference_s"]) == 2
        # every sample has the in-process reference runs around it, and the ratio statistics from them
        vs = lat["vs_ref"]
        assert [len(r) for r in vs["ref_s"]] == [len(s) for s in lat["samples_s"]]
        assert all(0 < r < 1 for proc in vs["ref_s"] for r in proc)
        assert len(vs["process_medians"]) == 2 and vs["ci95"][0] <= vs["median"] <= vs["ci95"][1]
    # the floor and the reloaded model reproduce the masked Keras model
    assert rows["lstm:floor:direct"]["max_abs_diff"] < 1e-5
    assert rows["lstm:reloaded:predict_on_batch"]["max_abs_diff"] < 1e-6
    again = subprocess.run(bench_argv(scens, tmp_path / "results", python), env=ENV, capture_output=True, text=True)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert rows_of(tmp_path / "results") == rows


def test_an_interrupted_bench_keeps_its_rounds_and_finishes_later(
    cell_python: Callable[[str], Path], tmp_path: Path
) -> None:
    python = cell_python(CELL)
    scens = small_scenario(tmp_path / "scenarios", rounds=3)
    argv = bench_argv(scens, tmp_path / "results", python)
    proc = subprocess.Popen(argv, env=ENV, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "round 1/3" in line:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    rows = rows_of(tmp_path / "results")
    assert len(rows) == 3 and all(r["complete"] is False and r["rounds"] == 1 for r in rows.values())
    done = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = rows_of(tmp_path / "results")
    assert all(r["complete"] is True and r["latency"]["processes"] == 3 for r in rows.values())


def test_an_environment_without_the_pins_gives_install_rows(tmp_path: Path) -> None:
    scens = small_scenario(tmp_path / "scenarios", rounds=1)
    # This interpreter has numpy and scipy but no TensorFlow or Keras.
    argv = bench_argv(scens, tmp_path / "results", sys.executable)
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "not timed, the environment lacks its pins" in proc.stdout
    rows = rows_of(tmp_path / "results")
    assert len(rows) == 3 and {(r["outcome"], r["failed_stage"]) for r in rows.values()} == {("fail", "install")}


def test_a_stack_that_does_not_import_becomes_import_rows(cell_python: Callable[[str], Path], tmp_path: Path) -> None:
    """Keras 3.15.1 is installed but its backend (jax) is not: the timing process fails at import."""
    python = cell_python(CELL)
    cells = tmp_path / "cells.toml"
    cells.write_text(
        '[defaults]\npython = "3.11"\n[[cell]]\nid = "nojax-keras3.15.1"\nkeras = "3.15.1"\nbackend = "jax"\n'
    )
    scens = small_scenario(tmp_path / "scenarios", rounds=1)
    argv = [
        sys.executable, "-m", "harness", "bench", "--cells", str(cells), "--scenarios", str(scens),
        "--results", str(tmp_path / "results"), "--env", f"nojax-keras3.15.1={python}",
    ]  # fmt: skip
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(x) for f in (tmp_path / "results").glob("*/*.jsonl") for x in f.read_text().splitlines()]
    assert len(rows) == 3 and {(r["outcome"], r["failed_stage"]) for r in rows} == {("fail", "import")}
    assert all("jax" in r["error_message"] for r in rows)
