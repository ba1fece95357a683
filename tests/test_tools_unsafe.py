"""Refusals: which of a file's findings a cell's release acts on, said in one sentence with the advisory."""

from __future__ import annotations

from pathlib import Path

from harness.decl import advisories, cells
from harness.tools import unsafe
from harness.tools.inspect import Inspection
from harness.tools.risks import Risk

ROOT = Path(__file__).resolve().parent.parent
LAMBDA = Risk("lambda-code", "/config/layers[1]", "a Lambda's function stored as marshalled Python bytecode",
              "Lambda twice")  # fmt: skip


def test_a_refusal_names_the_finding_the_release_and_the_advisory() -> None:
    matrix = cells.load(ROOT / "cells" / "cells.toml")
    insp = Inspection(Path("m.h5"), "h5", risks=[LAMBDA])
    catalog = advisories.load()
    (refusal,) = unsafe.refusals(insp, matrix.get("tf2.20.0-keras3.10.0"), catalog)
    text = refusal.text(matrix.get("tf2.20.0-keras3.10.0"))
    assert text.startswith("a Lambda's function stored as marshalled Python bytecode at /config/layers[1]: keras "
                           "3.10.0 runs code from it while loading")  # fmt: skip
    assert "CVE-2025-9905, fixed in 3.11.3" in text
    assert unsafe.refusals(insp, matrix.get("tf2.20.0-keras3.11.3"), catalog) == []
    assert unsafe.acting(LAMBDA, "h5", catalog) == [
        "keras <3; every tf-keras release (keras2-legacy-lambda)",
        "keras >=3.0.0,<3.11.3 (CVE-2025-9905, fixed in 3.11.3)",
    ]


def test_a_releases_own_refusal_is_recognised() -> None:
    assert unsafe.refused_by_release("Requested the deserialization of a `Lambda` layer ... pass `safe_mode=False`")
    assert unsafe.refused_by_release("call `keras.config.enable_unsafe_deserialization()`")
    assert not unsafe.refused_by_release("Layer 'lstm_cell' expected 3 variables, but received 0")
    assert not unsafe.refused_by_release(None)
