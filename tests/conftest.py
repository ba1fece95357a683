"""Shared fixtures: the real project files, and stored rows of real runs for the pure layers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import harness
from harness.decl import cells, scenarios
from harness.runner import envs, fingerprint
from harness.store import schema

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
    return restamped(FIXTURES / "rows.jsonl", matrix, scens)


def restamped(path: Path, matrix: cells.Matrix, scens: list[scenarios.Scenario]) -> list[dict[str, Any]]:
    """Stored rows with the current scenario, cell and harness identities (the data stays as measured)."""
    by_id = {c.id: c for c in matrix.cells}
    by_scen = {s.id: s for s in scens}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    for r in rows:
        r["schema"] = schema.SCHEMA_VERSION
        r["scenario_hash"] = by_scen[r["scenario"]].hash
        r["measured_by"] = by_scen[r["scenario"]].measured_by
        r["cell_hash"] = by_id[r["cell_id"]].hash
        r["harness_version"] = harness.__version__
    return rows


@pytest.fixture()
def cell_python(matrix: cells.Matrix) -> Callable[[str], Path]:
    """The cell's own uv environment, as `nox -s matrix` makes it (installed on first use), and its python."""

    def make(cell_id: str) -> Path:
        return Path(envs.install(matrix.get(cell_id), check=True).python)

    return make


def small_scenario(folder: Path, rounds: int = 2) -> Path:
    """latency.toml with two rounds of three samples, and three cases: masked, reloaded, floor."""
    text = (ROOT / "scenarios" / "latency.toml").read_text()
    head = text.split("[[params]]")[0]
    head = head.replace("rounds = 3 ", f"rounds = {rounds} ").replace("samples = 15 ", "samples = 3  ")
    params = '[[params]]\nrnn = ["lstm"]\nmodel = ["masked", "reloaded"]\ncall = ["predict_on_batch"]\n\n'
    params += '[[params]]\nrnn = ["lstm"]\nmodel = ["floor"]\ncall = ["direct"]\n'
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "latency.toml").write_text(head + params)
    return folder


@pytest.fixture()
def latency_rows(matrix: cells.Matrix, scens: list[scenarios.Scenario]) -> list[dict[str, Any]]:
    """Latency rows of four cells (Keras 2, Keras 3 on TensorFlow, jax, torch) from a real bench run."""
    return restamped(FIXTURES / "latency_rows.jsonl", matrix, scens)


def write_fake_python(folder: Path, script: str) -> str:
    """An executable `fake-python` in the folder: the given child script (its `{python}` is this interpreter)."""
    import stat
    import sys

    path = folder / "fake-python"
    path.write_text(script.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture(scope="session")
def sarif_validator() -> Any:
    """A validator for the OASIS SARIF 2.1.0 schema (`fixtures/sarif-2.1.0-rtm.5.json`, as npm's
    @microsoft/sarif-matcher-utils 1.0.0-beta.0 ships it, MIT)."""
    import jsonschema

    return jsonschema.Draft4Validator(json.loads((FIXTURES / "sarif-2.1.0-rtm.5.json").read_text()))


def stored_results(folder: Path) -> Path:
    """The committed CPU rows (the machine folder with the most cells) filed as this machine's, so that a test of
    reusing stored rows does not depend on which kind of machine runs it."""
    machines = [p for p in (ROOT / "results").iterdir() if p.is_dir() and "nvidia" not in p.name]
    source = max(machines, key=lambda p: len(list(p.glob("*.jsonl"))))
    target = folder / "results" / fingerprint.machine("cpu")["id"]
    if not target.exists():
        shutil.copytree(source, target)
    return folder / "results"


def run_in_cell(cell_id: str, script: str, *argv: str) -> str:
    """Run a script in a cell's own environment with the harness importable (its Keras as users import it:
    `harness.child.stack.import_stack`); the last line it prints. A non-zero exit fails the test with its stderr."""
    import os
    import subprocess

    cell = cells.load(ROOT / "cells" / "cells.toml").get(cell_id)
    python = envs.install(cell, check=True).python
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERAS", "TF_USE"))}
    env.update(cell.env, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    proc = subprocess.run([python, "-c", script, *argv], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]
