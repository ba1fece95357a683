"""Environments the harness installs itself: a failed install is kept as a log, or raised when asked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness import cells, envs
from harness.errors import UserError


def test_a_failed_install_leaves_its_log_or_raises(matrix: cells.Matrix, tmp_path: Path) -> None:
    cell = dataclasses.replace(matrix.get("tf2.21.0-keras3.15.1"), id="no-such-keras", keras="99.0.0")
    python = envs.install(cell, tmp_path)
    assert python == tmp_path / "no-such-keras" / "bin" / "python" and python.exists()
    assert "keras==99.0.0" in (tmp_path / "no-such-keras" / "install.log").read_text()
    with pytest.raises(UserError, match=r"no-such-keras: installing .*keras==99\.0\.0.* failed"):
        envs.install(cell, tmp_path, check=True)


def test_uv_is_found() -> None:
    assert Path(envs.uv_binary()).name == "uv"
