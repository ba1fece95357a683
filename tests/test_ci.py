"""The CI job matrix comes from the harness's own cells listing; the workflow is linted in the lint session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ci
from harness.decl.cells import Matrix

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def test_one_job_per_default_cell_gpu_cells_apart(matrix: Matrix) -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "harness", "cells", "--json"], env=ENV, capture_output=True, text=True, check=True
    )
    jobs = ci.job_matrix(json.loads(listing.stdout))
    assert {j["cell"] for j in jobs["cpu"]} == {c.id for c in matrix.cells if c.default}
    assert {j["cell"] for j in jobs["gpu"]} == {c.id for c in matrix.cells if "gpu" in c.tags}
    lines = ci.github_output(jobs).splitlines()
    assert [ln.split("=", 1)[0] for ln in lines] == ["cpu", "gpu"] and json.loads(lines[0].split("=", 1)[1])


@pytest.mark.parametrize("text", ["not json", '{"a": 1}', "[]", '{"cells": []}'])
def test_a_listing_that_is_not_the_cells_listing_is_refused(text: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "ci-matrix"], input=text, env=ENV, capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
