"""The upgrade paths in the report: the collapsed table, the kinds of upgrade, the answers, from rows alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.decl.cells import Matrix
from harness.decl.scenarios import Scenario
from harness.readers import model
from harness.readers.sections import upgrade_paths
from harness.store import rowfiles

ROOT = Path(__file__).resolve().parent.parent
TENSOR = "masking-lstm/tensor-float64:.keras"


def committed(matrix: Matrix, scens: list[Scenario]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = [r for r in rowfiles.read_all(ROOT / "results") if r["scenario"] == "upgrade"]
    return upgrade_paths.frame(rows, matrix, next(s for s in scens if s.handler == "upgrade"))


def test_the_committed_rows_cover_every_triple(matrix: Matrix, scens: list[Scenario]) -> None:
    """Every (saving cell, case, loading cell) of the default CPU cells has a current row."""
    df = committed(matrix, scens)
    real = df[~df["source"].str.startswith(upgrade_paths.SHIM)]  # the shim's records are the same files again
    default = [c for c in matrix.cells if c.default]
    up = next(s for s in scens if s.handler == "upgrade")
    for source in up.sources:  # each source's (saving cell, file, loading cell) triples, the zoo's included
        scen = next(s for s in scens if s.id == source)
        cases = sum(len(scen.cases()) for c in default if scen.applies_to(c.id, c.tags))
        mine = real[real["source"].str.startswith(f"{source}/")]
        assert len(mine) >= 0.95 * cases * len(default), source
    assert set(df["text"]) >= {"ok", "✗ load · keras2-time-major", "not saved"}
    assert not any(t.endswith("· unexplained") for t in df["text"] if not t.startswith("✗ load · "))


def test_the_table_collapses_savers_and_loaders_that_behave_alike(matrix: Matrix, scens: list[Scenario]) -> None:
    df = committed(matrix, scens)
    tensor = df[df["source"] == TENSOR]
    rows, cols, grid = upgrade_paths.collapse(tensor, matrix)
    assert sum(len(r) for r in rows) == tensor["saved_by"].nunique()
    assert sum(len(c) for c in cols) == tensor["loaded_by"].nunique()
    assert len(rows) < tensor["saved_by"].nunique() and len(cols) < tensor["loaded_by"].nunique()
    for r, line in zip(rows, grid, strict=True):  # every member of a run has the run's entries
        for member in r:
            for c, text in zip(cols, line, strict=True):
                got = tensor[(tensor["saved_by"] == member.id) & (tensor["loaded_by"] == c[0].id)]["text"]
                assert list(got) == [text]


def test_kinds_of_upgrade_and_the_answers(matrix: Matrix, scens: list[Scenario]) -> None:
    df = committed(matrix, scens)
    by = {c.id: c for c in matrix.cells}
    assert upgrade_paths.transition(by["tf2.15.1-keras2.15.0"], by["tf2.21.0-keras3.15.1"]) == "Keras 2 → Keras 3"
    assert upgrade_paths.transition(by["tf2.16.2-keras3.0.5"], by["tf2.19.1-keras3.9.2"]) == "Keras 3 → newer Keras 3"
    assert upgrade_paths.transition(by["tf2.21.0-keras3.15.1"], by["tf2.16.2-keras3.0.5"]) == "Keras 3 → older Keras 3"
    # one definition per kind: tf-keras files count as Keras 2 ones, a jax or torch loader as Keras 3
    assert upgrade_paths.transition(by["tf2.21.0-tfkeras2.21.0"], by["jax0.10.2-keras3.15.1"]) == "Keras 2 → Keras 3"
    assert upgrade_paths.transition(by["torch2.13.0-keras3.15.1"], by["tf2.15.1-keras2.15.0"]) == "Keras 3 → Keras 2"
    assert upgrade_paths.transition(by["tf2.21.0-keras3.15.1"], by["jax0.10.2-keras3.15.1"]) == "Keras 3 → same Keras 3"
    assert upgrade_paths.transition(by["tf2.21.0-keras3.15.1"], by["tf2.21.0-keras3.15.1"]) is None
    table = upgrade_paths.routes(df, matrix)
    assert "weights-only" in table.index and "Keras 3 → newer Keras 3" in table.columns
    answers = "\n".join(upgrade_paths.answers(df, matrix))
    assert "saved by the releases that cannot run it after loading themselves" in answers
    assert "does not carry a Keras 2 `.keras` file into Keras 3" in answers


def test_ranges_are_labelled_readably(matrix: Matrix) -> None:
    by = {c.id: c for c in matrix.cells}
    same_keras = [by[f"tf2.{v}-keras3.15.1"] for v in ("16.2", "17.1", "18.1", "19.1", "20.0", "21.0")]
    assert model.label(same_keras) == "Keras 3.15.1 on TF 2.16–2.21 (6 cells)"
    keras2 = [by[c] for c in ("tf2.12.1-keras2.12.0", "tf2.13.1-keras2.13.1", "tf2.14.1-keras2.14.0")]
    assert model.label(keras2) == "Keras 2 on TF 2.12–2.14 (3 cells)"
    assert model.label([by["tf2.16.2-keras3.0.5"], by["tf2.19.1-keras3.8.0"]]) == (
        "Keras 3.0.5–3.8.0 on TF 2.16–2.19 (2 cells)"
    )
    assert model.label([by["jax0.10.2-keras3.15.1"]]) == "Keras 3.15.1 (jax)"
