"""Results files: schema checks, atomic merge, staleness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import harness
from harness import schema, store
from harness.errors import UserError


def test_fixture_rows_are_valid(stored_rows: list[dict[str, Any]]) -> None:
    for i, row in enumerate(stored_rows):
        schema.check(row, f"row {i}")


def test_unknown_schema_version_is_refused(tmp_path: Path, stored_rows: list[dict[str, Any]]) -> None:
    path = tmp_path / "m" / "c.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps({**stored_rows[0], "schema": 99}) + "\n")
    with pytest.raises(UserError, match=r"c\.jsonl:1: results schema 99 is not the version this harness reads"):
        store.read_file(path)


def test_corrupt_line_names_file_and_line(tmp_path: Path, stored_rows: list[dict[str, Any]]) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(stored_rows[0]) + "\n" + '{"schema": 1, "cell_id": \n')
    with pytest.raises(UserError, match=r"c\.jsonl:2: corrupt result line"):
        store.read_file(path)


def test_bad_outcome_and_missing_field(stored_rows: list[dict[str, Any]]) -> None:
    with pytest.raises(UserError, match="outcome 'great'"):
        schema.check({**stored_rows[0], "outcome": "great"}, "x")
    broken = dict(stored_rows[0])
    del broken["cell_id"]
    with pytest.raises(UserError, match="lacks field 'cell_id'"):
        schema.check(broken, "x")


def test_upsert_replaces_same_case_and_keeps_order(tmp_path: Path, stored_rows: list[dict[str, Any]]) -> None:
    cell_rows = [r for r in stored_rows if r["cell_id"] == stored_rows[0]["cell_id"]]
    order = [(r["scenario"], r["case_id"]) for r in cell_rows]
    path = tmp_path / "machine" / "cell.jsonl"
    store.upsert(path, list(reversed(cell_rows)), order)
    store.upsert(path, [{**cell_rows[0], "duration_s": 123.0}], order)
    back = store.read_file(path)
    assert [(r["scenario"], r["case_id"]) for r in back] == order
    assert back[0]["duration_s"] == 123.0 and len(back) == len(cell_rows)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "no temp files left behind"
    lines = path.read_text().splitlines()
    assert lines[0] == json.dumps(json.loads(lines[0]), sort_keys=True, ensure_ascii=False)


def test_stale_cases(tmp_path: Path, stored_rows: list[dict[str, Any]]) -> None:
    row = stored_rows[0]
    key = (row["scenario"], row["case_id"])
    path = tmp_path / "cell.jsonl"
    store.write_rows(path, [row], [key])
    hashes = {row["scenario"]: row["scenario_hash"]}
    v = harness.__version__
    assert store.stale_cases(path, [key], hashes, row["cell_hash"], v) == []
    assert store.stale_cases(path, [key], {row["scenario"]: "other"}, row["cell_hash"], v) == [key]
    assert store.stale_cases(path, [key], hashes, "otherpins", v) == [key]
    assert store.stale_cases(path, [key], hashes, row["cell_hash"], "9.9") == [key]
    assert store.stale_cases(path, [("masking-lstm", "nope")], hashes, row["cell_hash"], v) == [
        ("masking-lstm", "nope")
    ]


def test_machines_live_apart(tmp_path: Path, stored_rows: list[dict[str, Any]]) -> None:
    row = stored_rows[0]
    a = store.cell_path(tmp_path, "machine-a", row["cell_id"])
    b = store.cell_path(tmp_path, "machine-b", row["cell_id"])
    key = [(row["scenario"], row["case_id"])]
    store.write_rows(a, [row], key)
    store.write_rows(b, [{**row, "machine": {**row["machine"], "id": "machine-b"}}], key)
    assert len(store.read_all(tmp_path)) == 2
