"""The noxfile: thin sessions that call `python -m harness`, exit codes passed on, and any supported Python as nox's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.runner import envs

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = {
    "matrix",
    "bench",
    "crossload",
    "triage",
    "check",
    "bisect",
    "report",
    "site",
    "spread",
    "repair",
    "cells",
    "tests",
    "lint",
}


def nox_binary() -> str:
    return shutil.which("nox") or pytest.skip("nox is not installed")


def test_the_sessions_are_the_commands_and_the_checks() -> None:
    proc = subprocess.run([nox_binary(), "-l"], cwd=ROOT, capture_output=True, text=True, check=True)
    names = {line.split()[1] for line in proc.stdout.splitlines() if line[:2] in ("* ", "- ")}
    assert names == SESSIONS


def test_the_noxfile_holds_no_harness_logic() -> None:
    """Each session installs and calls the harness: no private nox API, no nested nox, no import of the harness."""
    text = (ROOT / "noxfile.py").read_text()
    assert "_runner" not in text and '"nox", "-s"' not in text
    assert "from harness" not in text and "import harness" not in text
    assert len(text.splitlines()) < 150


def run_nox(argv: list[str], tmp_path: Path, **extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Nox with the given arguments, results pointed at an empty folder the session must not create."""
    results = tmp_path / "results"
    env = {**os.environ, "MASKCOMPAT_RESULTS": str(results), **extra}
    proc = subprocess.run([nox_binary(), *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return proc, results


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-s", "spread"], "error: the following arguments are required: RESULTS_A"),
        (["-s", "repair"], "error: the following arguments are required: IN.keras, OUT.keras"),
        (["-s", "bench", "--", "--cell", "tf9.9.9"], "error: unknown cell id(s) ['tf9.9.9']"),
        (["-s", "matrix", "--", "--device", "tpu"], "error: device must be cpu, gpu or auto, not 'tpu'"),
        (["-s", "triage"], "error: the following arguments are required: FROM, TO"),
        (["-s", "triage", "--", "tf=2.99.0", "tf=2.21.0"], "error: no cell has tf=2.99.0"),
    ],
)
def test_bad_session_arguments_are_one_line_and_exit_2(argv: list[str], message: str, tmp_path: Path) -> None:
    """Bad input is exit code 2 through nox too (a regression is 1), so a CI step can gate on it."""
    proc, results = run_nox(argv, tmp_path)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert message in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    assert not results.exists()


@pytest.mark.integration
def test_a_cell_whose_pins_do_not_exist_becomes_install_rows(tmp_path: Path) -> None:
    """`tensorflow-cpu==2.99.0` does not exist: the run records `install` rows, and the report shows them."""
    cells = tmp_path / "cells.toml"
    cells.write_text(
        '[defaults]\npython = "3.11"\n'
        '[rules.tensorflow]\n"2.99" = { keras = ">=3", python = ">=3.9", tf_keras = "<0" }\n'
        '[[cell]]\nid = "tf2.99.0-keras3.15.1"\ntensorflow = "2.99.0"\nkeras = "3.15.1"\n'
    )
    proc, results = run_nox(
        ["-s", "matrix", "--", "--case", "masking-lstm/list:*"], tmp_path,
        MASKCOMPAT_CELLS=str(cells), MASKCOMPAT_ENVS=str(tmp_path / "envs"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [json.loads(x) for f in results.glob("*/*.jsonl") for x in f.read_text().splitlines()]
    assert [(r["outcome"], r["failed_stage"]) for r in rows] == [("fail", "install")] * 2
    assert "2.99.0" in rows[0]["error_message"]
    assert "cases: 0 cells measured, 0 reused, 1 failed" in proc.stdout
    assert "✗ install" in (tmp_path / "report.md").read_text()


@pytest.mark.integration
@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_nox_runs_under_every_python_the_project_admits(version: str, tmp_path: Path) -> None:
    """`nox -l` and `nox -s tests` with nox installed in Python 3.10, 3.12 or 3.13 (3.11 runs the rest of the suite)."""
    venv = tmp_path / "nox-venv"
    uv = envs.uv_binary()
    made = subprocess.run([uv, "venv", "-q", "-p", envs.base_python(version), str(venv)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"no Python {version} here")
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "nox==2026.10.20"],
                   check=True)  # fmt: skip
    nox = str(venv / "bin" / "nox")
    listed = subprocess.run([nox, "-l"], cwd=ROOT, capture_output=True, text=True)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr[-2000:]
    assert "* tests" in listed.stdout
    ran = subprocess.run(
        [nox, "--envdir", str(tmp_path / "envdir"), "-s", "tests", "--", "-q", "tests/test_signature.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout
