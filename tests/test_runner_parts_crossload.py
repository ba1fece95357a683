"""Cross-version loading: artifacts saved in one cell, loaded and compared in another; the scenario's rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.decl import scenarios
from harness.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CELL = "tf2.21.0-keras3.15.1"


def one_cell_scenario(folder: Path) -> Path:
    text = (ROOT / "scenarios" / "cross-load.toml").read_text()
    lines = [
        f'cells = ["{CELL}"]'
        if ln.startswith("cells =")
        else f'saved_by = ["{CELL}"]'
        if ln.startswith("saved_by =")
        else ln
        for ln in text.splitlines()
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cross-load.toml").write_text("\n".join(lines) + "\n")
    return folder


def test_saved_by_must_list_the_scenario_cells(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "cross-load.toml").read_text().replace('"tf2.15.1-keras2.15.0", "tf2.16', '"tf2.16', 1)
    (tmp_path / "cross-load.toml").write_text(text)
    with pytest.raises(UserError, match=r"cross-load.toml:\d+: field 'params.saved_by' must list exactly"):
        scenarios.load_all(tmp_path)


def test_the_committed_scenario_pairs_four_cells() -> None:
    scen = next(s for s in scenarios.load_all(ROOT / "scenarios") if s.id == "cross-load")
    assert scen.handler == "crossload" and scen.measured_by == "crossload/2" and len(scen.cells) == 4
    assert len(scen.cases()) == 2 * 2 * 4


@pytest.mark.integration
def test_a_cell_loads_what_it_saved(cell_python: Callable[[str], Path], tmp_path: Path) -> None:
    cell_python(CELL)
    scens = one_cell_scenario(tmp_path / "scenarios")
    argv = [
        sys.executable, "-m", "harness", "crossload", "--scenarios", str(scens), "--results", str(tmp_path / "r"),
    ]  # fmt: skip
    proc = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {
        r["case_id"]: r for f in (tmp_path / "r").glob("*/*.jsonl") for r in map(json.loads, f.read_text().splitlines())
    }
    assert rows[f"list:.keras:{CELL}"]["outcome"] == "ok"
    assert rows[f"tensor-float64:.keras:{CELL}"]["outcome"] == "ok"  # Keras 3.15 saves and loads its own tensor value
    h5 = rows[f"tensor-float64:.h5:{CELL}"]
    assert (h5["outcome"], h5["failed_stage"], h5["source_stage"]) == ("skip", "source", "save")
    assert "Unable to serialize" in h5["error_message"]
    assert all(r["saved_by_hash"] and r["params"]["saved_by"] == CELL for r in rows.values())
    again = subprocess.run(argv, env=ENV, capture_output=True, text=True)
    assert again.returncode == 0 and "cross-load: 0 cells measured, 1 reused" in again.stdout
