"""The GPU sweep script, checked on CPU: what it would run (cells, part, cases, time limit), without a GPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.decl import cells, scenarios

ROOT = Path(__file__).resolve().parent.parent


def test_the_gpu_sweep_runs_every_point_on_the_newest_keras_gpu_cells_within_the_lent_time(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PLAN": "1",
        "OUT": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    proc = subprocess.run(
        [str(ROOT / "scripts" / "gpu-sweep.sh")], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    limit = int(out.split("limit: ", 1)[1].split(" s", 1)[0])
    assert 0 < limit <= 15 * 60 - 120  # the lent 15 minutes, less the machine's start
    matrix = cells.load(ROOT / "cells" / "cells.toml")
    gpu = [c for c in matrix.cells if "gpu" in c.roles]
    version = lambda c: tuple(int(p) for p in (c.keras or "0").split("."))  # noqa: E731
    newest = {b: max((c for c in gpu if c.backend == b), key=version) for b in ("jax", "torch")}
    sweep = scenarios.parse(ROOT / "scenarios" / "latency-sweep.toml")
    planned = [line.split() for line in out.splitlines() if line.startswith("  latency-sweep in ")]
    assert {p[2].rstrip(":") for p in planned} == {c.id for c in newest.values()}
    assert all(int(p[3]) == len(sweep.cases()) for p in planned)
    assert "--part sweep" in out and "--wheels" in out and f"--time-limit {limit}" in out
    assert not (tmp_path / "results").exists()  # a plan measures nothing


def test_a_plan_of_every_part_names_each_part_and_measures_nothing(tmp_path: Path) -> None:
    """`matrix --plan` over all parts (those that keep cases per scenario and those that do not) on empty results."""
    argv = [sys.executable, "-m", "harness", "matrix", "--plan", "--results", str(tmp_path / "r")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = [line.split(":")[0] for line in proc.stdout.splitlines() if not line.startswith(" ")]
    assert {"compat", "latency", "sweep", "crossload", "upgrade"} <= set(names), proc.stdout
    assert not (tmp_path / "r").exists()
