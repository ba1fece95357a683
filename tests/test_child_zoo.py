"""The zoo: every declared kind has a kit, and the readers' pip constraint cuts where a tested release fails."""

from __future__ import annotations

from conftest import ROOT

from harness.child import zoo
from harness.decl import cells, registry
from harness.readers.zoo import pip_ranges, zoo_kind


def test_every_declared_kind_has_a_kit_and_every_kit_is_declared() -> None:
    assert set(registry.ZOO_KINDS) == set(zoo.KITS)
    assert len(zoo.KITS) >= 15


def test_a_pip_constraint_names_the_tested_releases_that_load_a_file() -> None:
    matrix = cells.load(ROOT / "cells" / "cells.toml")
    keras3 = [c for c in matrix.cells if c.default and c.flavor == "keras3" and c.backend == "tensorflow"]
    ok = {c.id for c in keras3 if c.keras and tuple(int(p) for p in c.keras.split(".")[:2]) >= (3, 9)}
    assert pip_ranges(keras3, ok) == "`keras>=3.9.2,<=3.15.1`"
    hole = ok - {c.id for c in keras3 if c.keras == "3.12.4"}  # a release in between that does not load it
    assert pip_ranges(keras3, hole) == "`keras>=3.9.2,<=3.11.3` or `keras>=3.13.2,<=3.15.1`"
    assert pip_ranges(keras3, set()) == "none"
    assert zoo_kind("zoo/embedding-mask-gru:.weights.h5:weights-only") == "embedding-mask-gru"
