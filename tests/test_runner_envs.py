"""Where a cell's interpreter is: installed environments (a failed install keeps its log), given ones, in place."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from harness.decl import cells
from harness.errors import UserError
from harness.runner import envs


def test_a_failed_install_leaves_its_log_or_raises(matrix: cells.Matrix, tmp_path: Path) -> None:
    cell = dataclasses.replace(matrix.get("tf2.21.0-keras3.15.1"), id="no-such-keras", keras="99.0.0")
    interp = envs.install(cell, "cpu", tmp_path)
    assert Path(interp.python) == tmp_path / "no-such-keras" / "bin" / "python" and Path(interp.python).exists()
    assert "keras==99.0.0" in envs.install_log(interp)
    assert "keras is not installed (pinned 99.0.0)" in envs.problems(cell, interp)
    with pytest.raises(UserError, match=r"no-such-keras: installing .*keras==99\.0\.0.* failed"):
        envs.install(cell, "cpu", tmp_path, check=True)


def test_gpu_environments_live_apart(matrix: cells.Matrix, tmp_path: Path) -> None:
    cell = matrix.get("tf2.21.0-keras3.15.1")
    assert envs.env_dir(cell, "cpu", tmp_path) == tmp_path / cell.id
    assert envs.env_dir(cell, "gpu", tmp_path) == tmp_path / "gpu" / cell.id
    assert "tensorflow[and-cuda]==2.21.0" in cell.pins_for("gpu")


def test_a_given_interpreter_is_checked_not_installed(matrix: cells.Matrix) -> None:
    cell = matrix.get("tf2.21.0-keras3.15.1")
    interp = envs.given(cell, sys.executable)
    assert any("tensorflow-cpu is not installed" in p for p in envs.problems(cell, interp))
    with pytest.raises(UserError, match="does not exist"):
        envs.given(cell, "/no/such/python")


def test_a_child_gets_an_explicit_environment(
    matrix: cells.Matrix, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOMETHING_PRIVATE", "1")
    cell = matrix.get("tf2.16.2-tfkeras2.16.0")
    env = envs.child_env(cell, envs.in_place(cell, tmp_path, "cpu"), tmp_path)
    assert "SOMETHING_PRIVATE" not in env
    assert env["TF_USE_LEGACY_KERAS"] == "1" and env["MASKCOMPAT_FLAVOR"] == "tf_keras"
    assert env["PYTHONPATH"].endswith(str(tmp_path)) and env["TMPDIR"] == str(tmp_path)


def test_uv_is_found() -> None:
    assert Path(envs.uv_binary()).name == "uv"
