"""The noxfile exposes one matrix session per cell, plus the named sessions."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cells import Matrix

ROOT = Path(__file__).resolve().parent.parent


def nox_list(*sessions: str) -> list[dict[str, object]]:
    nox = shutil.which("nox") or pytest.skip("nox is not installed")
    argv = [nox, "-l", "--json", "-s", *sessions]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    return list(json.loads(proc.stdout))


def test_one_matrix_session_per_cell(matrix: Matrix) -> None:
    names = {str(s["session"]) for s in nox_list("matrix", "tests", "lint", "report", "cells")}
    assert {f"matrix({c.id})" for c in matrix.cells} <= names
    assert {"tests", "lint", "report", "cells"} <= names
    assert not any(f"matrix({e.id})" in names for e in matrix.excluded)


def test_cells_session_lists_pins() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "cells", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    data = json.loads(proc.stdout)
    assert data["cells"] and all(c["pins"] for c in data["cells"])
