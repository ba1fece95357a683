"""The zoo's readers on small frames of real cell ids: pip constraints per family, first broken and first fixed along
the Keras 3 releases, and how often `check`'s static reading predicts loading."""

from __future__ import annotations

import pandas as pd
from conftest import ROOT

from harness.decl import cells
from harness.readers import zoo
from harness.readers.sections.upgrade_paths import COLUMNS

MATRIX = cells.load(ROOT / "cells" / "cells.toml")


def frame(records: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    rows = [{"source": s, "saved_by": a, "loaded_by": b, "text": t, "shim": None} for s, a, b, t in records]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_constraints_name_each_family_s_tested_releases_that_load_a_file() -> None:
    loaders = [c for c in MATRIX.cells if c.default]
    k2 = {c.id for c in loaders if c.flavor == "keras2"}
    newer = {c.id for c in loaders if c.flavor == "keras3" and c.keras and c.keras.startswith(("3.14", "3.15"))}
    assert zoo.loads_on(loaders, k2 | newer) == "`tensorflow>=2.12.1,<=2.15.1`, `keras>=3.14.1,<=3.15.1`"
    tfk = {c.id for c in loaders if c.flavor == "tf_keras"}
    assert zoo.loads_on(loaders, tfk) == "`tf-keras>=2.16.0,<=2.21.0`"
    assert zoo.loads_on(loaders, set()) == "none"
    tf_only = {c.id for c in loaders if c.flavor == "keras3" and c.backend == "tensorflow" and c.keras == "3.15.1"}
    assert zoo.loads_on(loaders, tf_only) == "`keras==3.15.1` (not on jax, torch)"


def test_first_broken_and_first_fixed_along_the_keras_3_releases() -> None:
    line = zoo.line_of(MATRIX)
    versions = [c.keras for c in line]
    assert versions[0] == "3.0.5" and versions[-1] == "3.15.1" and len(set(versions)) == len(versions)
    src, records = "zoo/cnn:.keras", []
    broken_at, fixed_at = versions.index("3.4.1"), versions.index("3.6.0")
    for i, cell in enumerate(line):
        bad = broken_at <= i < fixed_at
        records.append((src, cell.id, cell.id, "✗ load · some-cause" if bad else "ok"))
        if i:
            records.append((src, line[i - 1].id, cell.id, "ok"))
    marks = zoo.milestones(frame(records), MATRIX).iloc[0].to_dict()
    assert marks == {"kind of model": "`cnn`", "first broken": "Keras 3.4.1", "cause": "`some-cause`",
                     "first fixed": "Keras 3.6.0"}  # fmt: skip
    # the previous release's file failing in the next release breaks it too, though each round trip works
    records = [(src, c.id, c.id, "ok") for c in line] + [(src, line[2].id, line[3].id, "≠ equivalence · drift")]
    assert zoo.milestones(frame(records), MATRIX).iloc[0]["first broken"] == f"Keras {versions[3]}"
    assert zoo.milestones(frame([(src, c.id, c.id, "ok") for c in line]), MATRIX).iloc[0]["first broken"] == "never"


def test_agreement_counts_a_prediction_from_every_kind_the_file_reads_as() -> None:
    saver = next(c for c in MATRIX.cells if c.id == "tf2.21.0-keras3.15.1")
    twin = next(c for c in MATRIX.cells if c.id == "tf2.20.0-keras3.15.1")  # the same Keras version, another cell
    k2 = next(c for c in MATRIX.cells if c.id == "tf2.15.1-keras2.15.0")
    disc, enc = "zoo/discretization:.keras", "zoo/category-encoding:.keras"
    df = frame([
        (disc, saver.id, saver.id, "ok"), (disc, saver.id, k2.id, "✗ load · x"),
        (disc, twin.id, saver.id, "ok"), (disc, twin.id, k2.id, "✗ load · x"),
        (enc, saver.id, saver.id, "ok"), (enc, saver.id, k2.id, "ok"),
    ])  # fmt: skip
    static = {(saver.id, disc): ["discretization", "category-encoding"], (twin.id, disc): ["discretization"],
              (saver.id, enc): ["category-encoding"]}  # fmt: skip
    table = zoo.agreement(df, static, MATRIX).set_index("target family")
    # every file loaded in Keras 3 is predicted to load (all kinds' rows say ok there): 3 of 3 agree
    assert table.loc["Keras 3"].to_dict() == {"files × loaders": 3, "predicted": 3, "agree": 3, "share": 1.0}
    # in Keras 2 the discretization files fail and are predicted to (their own kind's rows fail there); the
    # category-encoding file loads and its rows say so
    assert table.loc["Keras 2"].to_dict() == {"files × loaders": 3, "predicted": 3, "agree": 3, "share": 1.0}
    # the category-encoding file of one 3.15.1 cell now fails in Keras 2 while the other's loads: the rows of files of
    # that version predict `fails` for both (not every such file loads there), wrong for the one that loads
    df.loc[(df["source"] == enc) & (df["loaded_by"] == k2.id), "text"] = "✗ load · y"
    df = pd.concat([df, frame([(enc, twin.id, k2.id, "ok")])], ignore_index=True)
    static[(twin.id, enc)] = ["category-encoding"]
    table = zoo.agreement(df, static, MATRIX).set_index("target family")
    assert table.loc["Keras 2", "predicted"] == 4 and table.loc["Keras 2", "agree"] == 3
    assert "agrees with loading the file in 6 of 7" in zoo.agreement_line(zoo.agreement(df, static, MATRIX))
