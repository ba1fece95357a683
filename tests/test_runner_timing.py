"""Latency runs: the deadline with a fake clock, and real cells (rows with samples and statistics, reuse,
an interrupted run, missing pins, a lost import).

The real runs use the project's own `latency.toml` with fewer cases and samples, so the tests stay short.
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

from harness.decl import cells, scenarios
from harness.runner import envs, timing
from harness.runner.progress import Progress

ROOT = Path(__file__).resolve().parent.parent
CELL = "tf2.21.0-keras3.15.1"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def bench_argv(scens: Path, results: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "harness", "bench", "--scenarios", str(scens), "--results", str(results),
        "--cell", CELL, *extra,
    ]  # fmt: skip


def rows_of(results: Path, cell: str = CELL) -> dict[str, dict[str, Any]]:
    files = list(results.glob(f"*/{cell}.jsonl"))
    return {r["case_id"]: r for f in files for r in map(json.loads, f.read_text().splitlines())}


def test_fits_counts_the_mean_process_against_the_deadline() -> None:
    assert timing.fits(now=100.0, spent=0.0, done=0, deadline=100.0)  # nothing known yet: start while time is left
    assert not timing.fits(now=100.5, spent=0.0, done=0, deadline=100.0)
    assert timing.fits(now=100.0, spent=20.0, done=2, deadline=110.0)  # mean 10 s ends exactly at the deadline
    assert not timing.fits(now=100.0, spent=21.0, done=2, deadline=110.0)
    assert timing.fits(now=1e12, spent=1e6, done=1, deadline=None)


def test_a_time_limit_leaves_rounds_out_and_says_so(
    tmp_path: Path, matrix: cells.Matrix, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fake clock: every timing process takes 10 s, the limit is 25 s, so two of eight processes run."""
    scen = next(s for s in scenarios.load_all(small_scenario(tmp_path / "scenarios", rounds=8)) if s.timed)
    cell = matrix.get(CELL)
    target = timing.Target(cell, envs.Interpreter(sys.executable, (), (), "fake"), scen.cases())
    now = [1000.0]

    def process(t: timing.Target, s: scenarios.Scenario, round_no: int) -> None:
        now[0] += 10.0
        t.ready = {"type": "ready", "python": "3.11.7", "versions": {}, "device": "cpu"}
        for case in t.cases:
            t.answers[case.case_id] = {"outcome": "ok", "samples": [0.01, 0.011, 0.012], "loops": 1}
            t.loops.setdefault(case.case_id, 1)
            t.samples.setdefault(case.case_id, []).append([0.01, 0.011, 0.012])
            t.refs.setdefault(case.case_id, []).append([0.007, 0.007, 0.007])

    machine = {"id": "m"}
    counts = timing.run(
        [target], scen, tmp_path / "results", machine, "test", Progress("[t]"), deadline=1025.0,
        clock=lambda: now[0], process=process,
    )  # fmt: skip
    assert counts == {"unfinished": 1}
    assert "time limit: stopped after 2 of 8 timing processes (round 3/8)" in capsys.readouterr().out
    rows = rows_of(tmp_path / "results")
    assert len(rows) == 3
    for row in rows.values():
        assert row["outcome"] == "ok" and row["complete"] is False and row["rounds"] == 2
        assert row["latency"]["processes"] == 2 and row["run_id"].startswith("m@")


def test_a_jax_cell_shares_its_compile_cache_across_the_rounds_of_one_run_only(
    tmp_path: Path, matrix: cells.Matrix
) -> None:
    scen = next(s for s in scenarios.load_all(small_scenario(tmp_path / "scenarios", rounds=2)) if s.timed)
    jax = timing.Target(matrix.get("jax0.10.2-keras3.15.1"), envs.Interpreter(sys.executable, (), (), "fake"), [])
    tf = timing.Target(matrix.get(CELL), envs.Interpreter(sys.executable, (), (), "fake"), [])
    assert timing.cache_env(jax, {"rounds": 2}) == {} and timing.cache_env(jax, {"compile_cache": 0}) == {}
    assert timing.cache_env(tf, {"compile_cache": 1}) == {} and tf.compile_cache is None
    seen: list[str] = []

    def process(t: timing.Target, s: scenarios.Scenario, round_no: int) -> None:
        env = timing.cache_env(t, {"compile_cache": 1})
        seen.append(env["JAX_COMPILATION_CACHE_DIR"])
        assert Path(seen[-1]).is_dir() and env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"
        t.ready = {"type": "ready", "python": "3.11.7", "versions": {}, "device": "cpu"}

    timing.run([jax], scen, tmp_path / "results", {"id": "m"}, "test", Progress("[t]"), process=process)
    assert len(seen) == 2 and seen[0] == seen[1]  # both rounds, one folder
    assert not Path(seen[0]).exists() and jax.compile_cache is None  # removed when the run ends


@pytest.mark.integration
def test_bench_stores_samples_statistics_and_reuses_them(cell_python: Callable[[str], Path], tmp_path: Path) -> None:
    cell_python(CELL)
    scens = small_scenario(tmp_path / "scenarios")
    proc = subprocess.run(bench_argv(scens, tmp_path / "results"), env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "round 2/2" in proc.stdout
    rows = rows_of(tmp_path / "results")
    assert sorted(rows) == ["lstm:floor:direct", "lstm:masked:predict_on_batch", "lstm:reloaded:predict_on_batch"]
    for row in rows.values():
        assert row["outcome"] == "ok" and row["complete"] is True and row["device"] == "cpu"
        assert row["measured_by"] == "latency/1" and row["run_id"]
        lat = row["latency"]
        assert lat["processes"] == 2 and lat["n"] == 6 and len(lat["samples_s"]) == 2
        assert lat["q1_s"] <= lat["median_s"] <= lat["q3_s"] and lat["median_s"] > 0
        assert row["threads"]["OMP_NUM_THREADS"] == "1" and len(row["threads"]["cpus"]) == 1
        assert len(row["reference_s"]) == 2
        # every sample has the in-process reference runs around it, and the ratio statistics from them
        vs = lat["vs_ref"]
        assert [len(r) for r in vs["ref_s"]] == [len(s) for s in lat["samples_s"]]
        assert all(r > 0 for proc in vs["ref_s"] for r in proc)
        assert len(vs["process_medians"]) == 2 and vs["ci95"][0] <= vs["median"] <= vs["ci95"][1]
    # the floor and the reloaded model reproduce the masked Keras model
    assert rows["lstm:floor:direct"]["max_abs_diff"] < 1e-5
    assert rows["lstm:reloaded:predict_on_batch"]["max_abs_diff"] < 1e-6
    again = subprocess.run(bench_argv(scens, tmp_path / "results"), env=ENV, capture_output=True, text=True)
    assert again.returncode == 0 and "latency: 0 cells measured, 1 reused" in again.stdout
    assert rows_of(tmp_path / "results") == rows


@pytest.mark.integration
def test_an_interrupted_bench_keeps_its_rounds_and_finishes_later(
    cell_python: Callable[[str], Path], tmp_path: Path
) -> None:
    cell_python(CELL)
    scens = small_scenario(tmp_path / "scenarios", rounds=3)
    argv = bench_argv(scens, tmp_path / "results")
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


def test_an_interpreter_without_the_pins_gives_install_rows(tmp_path: Path) -> None:
    scens = small_scenario(tmp_path / "scenarios", rounds=1)
    # This interpreter has numpy and scipy but no TensorFlow or Keras.
    argv = bench_argv(scens, tmp_path / "results", "--python", sys.executable)
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "not timed, its interpreter lacks its pins" in proc.stdout
    rows = rows_of(tmp_path / "results")
    assert len(rows) == 3 and {(r["outcome"], r["failed_stage"]) for r in rows.values()} == {("fail", "install")}


@pytest.mark.integration
def test_a_stack_that_does_not_import_becomes_import_rows(cell_python: Callable[[str], Path], tmp_path: Path) -> None:
    """Keras 3.15.1 is installed but its backend (jax) is not: the timing child fails at import."""
    python = cell_python(CELL)
    cells_file = tmp_path / "cells.toml"
    cells_file.write_text(
        '[defaults]\npython = "3.11"\n[[cell]]\nid = "nojax-keras3.15.1"\nkeras = "3.15.1"\nbackend = "jax"\n'
    )
    scens = small_scenario(tmp_path / "scenarios", rounds=1)
    argv = [
        sys.executable, "-m", "harness", "bench", "--cells", str(cells_file), "--scenarios", str(scens),
        "--results", str(tmp_path / "results"), "--cell", "nojax-keras3.15.1", "--python", str(python),
    ]  # fmt: skip
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(x) for f in (tmp_path / "results").glob("*/*.jsonl") for x in f.read_text().splitlines()]
    assert len(rows) == 3 and {(r["outcome"], r["failed_stage"]) for r in rows} == {("fail", "import")}
    assert all("jax" in r["error_message"] for r in rows)
