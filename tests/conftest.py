"""Shared fixtures: the real project files, and stored rows of real runs for the pure layers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness import cells, scenarios

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture()
def matrix() -> cells.Matrix:
    """The project's own cells file."""
    return cells.load(ROOT / "cells" / "cells.toml")


@pytest.fixture()
def scens() -> list[scenarios.Scenario]:
    """The project's own scenarios."""
    return scenarios.load_all(ROOT / "scenarios")


@pytest.fixture()
def stored_rows(matrix: cells.Matrix, scens: list[scenarios.Scenario]) -> list[dict[str, Any]]:
    """Rows saved from a real matrix run, re-stamped with today's hashes so they count as current."""
    by_id = {c.id: c for c in matrix.cells}
    scen_hash = {s.id: s.hash for s in scens}
    rows = [json.loads(line) for line in (FIXTURES / "rows.jsonl").read_text().splitlines() if line]
    for r in rows:
        r["scenario_hash"] = scen_hash[r["scenario"]]
        r["cell_hash"] = by_id[r["cell_id"]].hash
        import harness

        r["harness_version"] = harness.__version__
    return rows
