"""The latency sweep in a real cell: a small declaration of the same form, timed twice (rows keep the previous run),
the real-work model reproducing the masked one (models shared by two batch sizes), and the readers' ratios and fits
from those rows."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.decl import cells, scenarios
from harness.readers.sections import sweep
from harness.store import rowfiles

ROOT = Path(__file__).resolve().parent.parent
CELL = "tf2.21.0-keras3.15.1"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SMALL = """
id = "latency-sweep"
title = "small sweep"
builder = "sweep"
timeout_s = 600
cells = ["tf2.21.0-keras3.15.1"]

[model]
units = 8
timesteps = 64
features = 4
batch = 4
pad_fraction = 0.5
seed = 0

[tolerance]
rtol = 1e-4
atol = 1e-5

[bench]
rounds = 2
samples = 3
warmup = 0
warm_sweeps = 1
min_sample_s = 0.005
case_budget_s = 0.1
threads = 1
cpu = -1

[[params]]
rnn = ["lstm"]
model = ["masked", "unmasked", "real-work"]
timesteps = ["16", "32", "64"]
batch = ["4", "8"]
units = ["8"]
pad = ["0.5"]

[[params]]
rnn = ["lstm"]
model = ["masked", "unmasked", "real-work"]
timesteps = ["64"]
batch = ["4"]
units = ["8"]
pad = ["0", "0.75"]
"""


@pytest.mark.integration
def test_a_sweep_times_every_point_twice_and_the_readers_compare_the_runs(
    cell_python: Callable[[str], Path], tmp_path: Path
) -> None:
    cell_python(CELL)
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "latency-sweep.toml").write_text(SMALL)
    argv = [sys.executable, "-m", "harness", "matrix", "--scenarios", str(folder), "--results", str(tmp_path / "r"),
            "--cell", CELL, "--part", "sweep", "--no-report", "--fresh"]  # fmt: skip
    for _ in (1, 2):
        proc = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "sweep: 1 cells measured" in proc.stdout, proc.stdout[-2000:]
    rows = [r for r in rowfiles.read_all(tmp_path / "r") if r["scenario"] == "latency-sweep"]
    scen = scenarios.parse(folder / "latency-sweep.toml")
    assert sorted(r["case_id"] for r in rows) == sorted(c.case_id for c in scen.cases())
    for row in rows:
        assert row["outcome"] == "ok" and row["complete"] and row["measured_by"] == "sweep/3", row.get("error_message")
        assert row["previous"]["run_id"] != row["run_id"] and row["previous"]["vs_ref"]["median"] > 0
        # the unmasked model on the real steps gives the masked output, at every batch size sharing the models
        if row["params"]["model"] == "real-work":
            assert row["max_abs_diff"] < 1e-5
    df = sweep.frame(rows, scen, cells.load(ROOT / "cells" / "cells.toml"))
    ratios = sweep.ratios(df)
    assert len(ratios) == 8 and ratios["waste"].notna().all() and ratios["waste_agrees"].notna().all()
    fits = sweep.fits(df)
    assert set(fits["model"]) == {"masked", "unmasked", "real-work"} and (fits["points"] == 3).all()
    spread = subprocess.run([sys.executable, "-m", "harness", "spread", str(tmp_path / "r"), "--scenario",
                             "latency-sweep"], env=ENV, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert spread.returncode == 0, spread.stderr[-2000:]
    assert "16 ratios in both runs" in spread.stdout and "95% intervals overlap" in spread.stdout, spread.stdout
