"""Cells file parsing and checking."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.decl import cells
from harness.errors import UserError

RULES = """
[defaults]
python = "3.11"
[rules.tensorflow]
"2.15" = { keras = ">=2.15,<2.16", python = ">=3.9,<3.12", tf_keras = "==2.15.*" }
"2.21" = { keras = ">=3.12.0", python = ">=3.10,<3.14", tf_keras = "==2.21.*" }
[rules.keras_python]
"3.0" = ">=3.9"
"3.13" = ">=3.11"
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "cells.toml"
    path.write_text(RULES + body)
    return path


def test_project_matrix_covers_the_issue(matrix: cells.Matrix) -> None:
    ids = [c.id for c in matrix.cells]
    assert len(ids) == len(set(ids))
    tf_minors = {".".join(c.tensorflow.split(".")[:2]) for c in matrix.cells if c.tensorflow}
    assert {f"2.{m}" for m in range(12, 22)} <= tf_minors
    keras3_minors = {".".join(c.keras.split(".")[:2]) for c in matrix.cells if c.flavor == "keras3" and c.keras}
    assert {f"3.{m}" for m in range(0, 16)} <= keras3_minors
    assert sum(c.flavor == "tf_keras" for c in matrix.cells) >= 2
    assert {c.backend for c in matrix.cells} == {"tensorflow", "jax", "torch"}
    assert all(e.reason for e in matrix.excluded)


def test_flavor_pins_and_env(matrix: cells.Matrix) -> None:
    k2 = matrix.get("tf2.12.1-keras2.12.0")
    assert k2.flavor == "keras2" and k2.pins == ["tensorflow-cpu==2.12.1", "keras==2.12.0"]
    tk = matrix.get("tf2.16.2-tfkeras2.16.0")
    assert tk.flavor == "tf_keras" and tk.env["TF_USE_LEGACY_KERAS"] == "1"
    jx = matrix.get("jax0.10.2-keras3.15.1")
    assert jx.flavor == "keras3" and jx.env["KERAS_BACKEND"] == "jax" and jx.tensorflow is None
    assert "jax[cpu]==0.10.2" in jx.pins


def test_gpu_cells_and_gpu_builds(matrix: cells.Matrix) -> None:
    gpu = [c for c in matrix.cells if "gpu" in c.tags]
    assert gpu and all(not c.default and c.python == "3.12" for c in gpu)
    assert {c.backend for c in gpu} == {"jax", "torch"}
    minors = {".".join((c.keras or "").split(".")[:2]) for c in gpu}
    assert {"3.8", "3.10", "3.12", "3.13", "3.14", "3.15"} <= minors
    assert all(c.default for c in matrix.cells if "gpu" not in c.tags)
    assert matrix.get("tf2.21.0-keras3.15.1").gpu_pins == ["tensorflow[and-cuda]==2.21.0", "keras==3.15.1"]
    assert matrix.get("jax0.10.2-keras3.15.1").gpu_pins[-1] == "jax[cuda12]==0.10.2"
    assert matrix.get("torch2.13.0-keras3.15.1").gpu_pins[-1] == "torch==2.13.0"


def test_cell_hash_follows_pins(tmp_path: Path) -> None:
    a = cells.load(write(tmp_path, '[[cell]]\nid = "a"\ntensorflow = "2.21.0"\nkeras = "3.15.1"\n')).cells[0]
    b = cells.load(write(tmp_path, '[[cell]]\nid = "a"\ntensorflow = "2.21.0"\nkeras = "3.14.1"\n')).cells[0]
    assert a.hash != b.hash


def test_rule_violation_is_excluded_with_reason(tmp_path: Path) -> None:
    m = cells.load(
        write(
            tmp_path,
            '[[cell]]\nid = "ok"\ntensorflow = "2.21.0"\nkeras = "3.15.1"\n'
            '[[cell]]\nid = "bad"\ntensorflow = "2.15.1"\nkeras = "3.0.5"\n'
            '[[cell]]\nid = "oldpy"\npython = "3.10"\ntensorflow = "2.21.0"\nkeras = "3.15.1"\n',
        )
    )
    assert [c.id for c in m.cells] == ["ok"]
    reasons = {e.id: e.reason for e in m.excluded}
    assert "requires keras >=2.15,<2.16" in reasons["bad"]
    assert "needs python >=3.11" in reasons["oldpy"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[cell]]\nid = "x"\nkeras = "3.15.1"\ncolour = "red"\n', "unknown field(s) ['colour']"),
        ('[[cell]]\nkeras = "3.15.1"\n', "field 'id' is required"),
        ('[[cell]]\nid = "x"\nbackend = "mxnet"\nkeras = "3.15.1"\n', "backend 'mxnet'"),
        ('[[cell]]\nid = "x"\ntensorflow = "2.21.0"\n', "needs 'keras' or 'tf_keras'"),
        ('[[cell]]\nid = "x"\nkeras = 3\n', "field 'keras' must be a string"),
        (
            '[[cell]]\nid = "x"\ntensorflow = "2.21.0"\nkeras = "3.15.1"\n'
            '[[cell]]\nid = "x"\ntensorflow = "2.21.0"\nkeras = "3.15.1"\n',
            "duplicate cell id 'x'",
        ),
        ("[[cell]\n", "not valid TOML"),
        ('[[cell]]\nid = "x"\nkeras = "3.15.1"\ndefault = "no"\n', "field 'default' must be true or false"),
    ],
)
def test_malformed_cells_name_the_problem(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(UserError, match=r"cells\.toml") as info:
        cells.load(path)
    assert message in str(info.value)


def test_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[cell]]\nid = "x"\nkeras = "3.15.1"\ncolour = "red"\n')
    line = path.read_text().splitlines().index('id = "x"') + 1
    with pytest.raises(UserError, match=rf"cells\.toml:{line}"):
        cells.load(path)


def test_unknown_and_excluded_ids(matrix: cells.Matrix) -> None:
    with pytest.raises(UserError, match=r"unknown cell id 'tf9\.9\.9'"):
        matrix.get("tf9.9.9")
    with pytest.raises(UserError, match="is excluded"):
        matrix.get(matrix.excluded[0].id)
