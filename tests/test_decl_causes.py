"""The cause catalog: it loads, each cause fits a real stored message, the committed rows are explained, and a
bad catalog is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.decl import causes, cells
from harness.errors import UserError
from harness.store import rowfiles

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = json.loads((ROOT / "tests" / "fixtures" / "cause-examples.json").read_text(encoding="utf-8"))


def test_the_catalog_loads_with_a_sentence_and_a_match_per_cause() -> None:
    catalog = causes.load()
    assert len({c.id for c in catalog}) == len(catalog) >= 15
    for cause in catalog:
        assert cause.sentence and cause.matches, cause.id
        assert cause.upstream is None or cause.upstream.startswith("https://github.com/"), cause.id


@pytest.mark.parametrize("cause", [c.id for c in causes.load()])
def test_each_cause_fits_a_real_stored_message(cause: str) -> None:
    example = EXAMPLES[cause]  # copied from a row of results/ (its `from` says which)
    assert causes.classify(example, causes.load()) == cause, example["from"]


def test_a_row_that_did_not_fail_has_no_cause_and_an_unknown_error_is_unexplained() -> None:
    assert causes.classify({"outcome": "ok"}, causes.load()) is None
    assert causes.classify({"outcome": "skip", "error_message": "no route"}, causes.load()) is None
    row = {"outcome": "fail", "failed_stage": "load", "error_type": "OSError", "error_message": "disk on fire"}
    assert causes.classify(row, causes.load()) == causes.UNEXPLAINED


def test_the_committed_rows_are_explained_and_every_cause_is_seen() -> None:
    """Over every stored row (and every shim try an upgrade row keeps), at most 5% unexplained, each cause seen."""
    matrix = cells.load(ROOT / "cells" / "cells.toml")
    known = {c.id for c in matrix.cells}
    seen: dict[str, int] = {}
    for row in rowfiles.read_all(ROOT / "results"):
        if row["cell_id"] in known:
            for tried in (row, row.get("shim")):  # an upgrade row keeps the shim route's try in `shim`
                cause = causes.classify(tried, causes.load()) if tried else None
                if cause is not None:
                    seen[cause] = seen.get(cause, 0) + 1
    total = sum(seen.values())
    assert total > 1000
    assert seen.get(causes.UNEXPLAINED, 0) / total <= 0.05, seen.get(causes.UNEXPLAINED)
    assert {c.id for c in causes.load()} <= set(seen)


BAD = {
    '[[cause]]\nid = "x"\nsentence = "s"\ncolour = "red"\n[[cause.match]]\nmessage = "a"': "unknown field(s) colour",
    '[[cause]]\nid = "x"\nsentence = "s"\n[[cause.match]]\nmessage = "(a"': "does not compile",
    '[[cause]]\nid = "x"\nsentence = "s"\n[[cause.match]]\nstage = ["lunch"]\nmessage = "a"': "unknown stage(s) lunch",
    '[[cause]]\nid = "x"\nsentence = "s"\n[[cause.match]]\nstage = ["load"]': "needs a type, a message or an outer",
    '[[cause]]\nid = "x"\nsentence = "s"': "missing field match",
    '[[cause]]\nid = "unexplained"\nsentence = "s"\n[[cause.match]]\nmessage = "a"': "used twice or reserved",
}


@pytest.mark.parametrize(("text", "says"), BAD.items())
def test_a_bad_catalog_is_one_line_naming_the_cause(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "causes.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as err:
        causes.load(path)
    assert says in str(err.value) and "\n" not in str(err.value)
