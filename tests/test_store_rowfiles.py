"""Results files: schema checks, atomic upserts, machines apart, and two writers at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UserError
from harness.store import rowfiles as store
from harness.store import schema


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
    path.write_text(json.dumps(stored_rows[0]) + "\n" + '{"schema": 2, "cell_id": \n')
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


def test_machines_live_apart(tmp_path: Path, stored_rows: list[dict[str, Any]]) -> None:
    row = stored_rows[0]
    a = store.cell_path(tmp_path, "machine-a", row["cell_id"])
    b = store.cell_path(tmp_path, "machine-b", row["cell_id"])
    key = [(row["scenario"], row["case_id"])]
    store.write_rows(a, [row], key)
    store.write_rows(b, [{**row, "machine": {**row["machine"], "id": "machine-b"}}], key)
    assert len(store.read_all(tmp_path)) == 2


WRITER = """
import json, sys
from pathlib import Path
from harness.store import rowfiles
rows, path, order = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]), []
for i, row in enumerate(rows):
    rowfiles.upsert(path, [row], order)
"""


def test_two_writers_at_once_lose_no_row(tmp_path: Path, stored_rows: list[dict[str, Any]]) -> None:
    """Two processes upsert different rows into one cell file at the same time: every row survives, once."""
    import subprocess
    import sys

    base = stored_rows[0]
    rows = [{**base, "case_id": f"case-{i:03d}"} for i in range(80)]
    path = tmp_path / "m" / "c.jsonl"
    halves = []
    for n, part in enumerate((rows[0::2], rows[1::2])):
        f = tmp_path / f"rows-{n}.json"
        f.write_text(json.dumps(part))
        halves.append(f)
    root = Path(__file__).resolve().parent.parent
    env = {"PYTHONPATH": str(root), "PATH": ""}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(f), str(path)], env=env) for f in halves]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    back = store.read_file(path)
    assert sorted(r["case_id"] for r in back) == sorted(r["case_id"] for r in rows)  # none lost, none twice
