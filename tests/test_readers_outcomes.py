"""Two results folders compared row by row (`python -m harness diff`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.readers import outcomes
from harness.store import rowfiles

ROOT = Path(__file__).resolve().parent.parent


def write(folder: Path, rows: list[dict[str, Any]]) -> Path:
    for row in rows:
        rowfiles.upsert(rowfiles.cell_path(folder, row["machine"]["id"], row["cell_id"]), [row], [])
    return folder


def test_the_same_rows_do_not_differ_and_a_changed_stage_does(
    tmp_path: Path, stored_rows: list[dict[str, Any]]
) -> None:
    a = write(tmp_path / "a", stored_rows)
    changed = [dict(r) for r in stored_rows]
    failing = next(i for i, r in enumerate(changed) if r["outcome"] == "fail")
    changed[failing] = {**changed[failing], "failed_stage": "load", "error_type": "X", "error_message": "y",
                        "error_cause_type": None, "error_cause_message": None}  # fmt: skip
    b = write(tmp_path / "b", changed[:-1])
    d = outcomes.diff(a, b)
    assert d.compared == len(stored_rows) - 1 and len(d.differ) == 1 and len(d.only_a) == 1 and not d.only_b
    ((key, was, now),) = d.differ
    assert key[1] == changed[failing]["cell_id"] and now == "fail at load: load: X: y" and was != now
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "diff", str(a), str(b)],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 1 and "1 differ in outcome, stage or error signature" in proc.stdout
    same = outcomes.diff(a, a)
    assert same.compared == len(stored_rows) and not same.differ
