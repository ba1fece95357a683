"""`check --static`, `repair --no-check` and every `--help` in an environment with only numpy and h5py: the command
line imports what a command needs only when that command runs (pandas, scipy, packaging are not there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.commands import NAMES
from harness.runner import envs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with numpy and h5py only (uv, from its cache or PyPI)."""
    venv = tmp_path_factory.mktemp("lean") / "venv"
    uv = envs.uv_binary()
    subprocess.run([uv, "venv", "-q", "-p", f"{sys.version_info[0]}.{sys.version_info[1]}", str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "numpy", "h5py"],
                   check=True)  # fmt: skip
    return venv / "bin" / "python"


def run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "harness", *args], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, cwd=cwd)  # fmt: skip


def tensor_file(path: Path) -> Path:
    """A `.keras` archive with a tagged tensor mask value, written by hand (no framework needed)."""
    tensor = {"class_name": "__tensor__", "config": {"value": [0.0, 0.0], "dtype": "float64"}}
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
        {"module": "keras.layers", "class_name": "Masking", "config": {"name": "m", "mask_value": tensor},
         "registered_name": None}]}}  # fmt: skip
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.0.5"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"\0" * 16)
    return path


@pytest.mark.integration
def test_lean_environment_has_no_pandas_scipy_or_packaging(lean: Path) -> None:
    probe = "import importlib.util as u; print([m for m in ('pandas', 'scipy', 'packaging') if u.find_spec(m)])"
    assert subprocess.run([str(lean), "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"


@pytest.mark.integration
def test_check_static_and_repair_run_there(lean: Path, tmp_path: Path) -> None:
    model = tensor_file(tmp_path / "m.keras")
    static = run(lean, "check", str(model), "--static", cwd=tmp_path)
    assert static.returncode == 0, static.stderr
    assert "__tensor__ value stored in the config (Masking m)" in static.stdout
    repaired = run(lean, "repair", str(model), str(tmp_path / "fixed.keras"), "--no-check", cwd=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    with zipfile.ZipFile(tmp_path / "fixed.keras") as z:
        assert json.loads(z.read("config.json"))["config"]["layers"][0]["config"]["mask_value"] == [0.0, 0.0]


@pytest.mark.integration
@pytest.mark.parametrize("command", [None, *NAMES])
def test_help_runs_there(lean: Path, tmp_path: Path, command: str | None) -> None:
    proc = run(lean, *([command] if command else []), "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "usage:" in proc.stdout, proc.stderr
