"""Run-to-run spread of latency medians between two results folders (`harness.readers.spread`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.errors import UserError
from harness.readers import spread as compare


def _write(folder: Path, rows: list[dict[str, Any]]) -> Path:
    (folder / "m").mkdir(parents=True)
    (folder / "m" / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_spread_of_two_runs(tmp_path: Path, latency_rows: list[dict[str, Any]]) -> None:
    moved = []
    for r in latency_rows:
        r2 = json.loads(json.dumps(r))
        r2["latency"]["median_s"] *= 1.04
        moved.append(r2)
    a = compare.medians(_write(tmp_path / "a", latency_rows), "latency")
    b = compare.medians(_write(tmp_path / "b", moved), "latency")
    table = compare.spread(a, b)
    s = compare.summary(table)
    assert s["rows"] == len(latency_rows)
    assert s["median_abs_change"] == pytest.approx(0.04) and s["within_5pct"] == 1.0
    assert "+4.0%" in compare.render(table, s)


def test_runs_with_nothing_in_common_are_refused(tmp_path: Path, latency_rows: list[dict[str, Any]]) -> None:
    other = [{**json.loads(json.dumps(r)), "cell_id": "elsewhere"} for r in latency_rows]
    a = compare.medians(_write(tmp_path / "a", latency_rows), "latency")
    b = compare.medians(_write(tmp_path / "b", other), "latency")
    with pytest.raises(UserError, match="share no"):
        compare.spread(a, b)


def test_the_reference_ratio_is_compared_where_rows_have_it(tmp_path: Path, latency_rows: list[dict[str, Any]]) -> None:
    with pytest.raises(UserError, match="timed with the in-process reference"):
        compare.medians(_write(tmp_path / "old", latency_rows), "latency", "ratio")  # rows from before the reference
    with_ref, moved = [], []
    for r in latency_rows:
        r2 = json.loads(json.dumps(r))
        r2["latency"]["vs_ref"] = {"median": 3.0, "ref_s": [[0.007, 0.007]]}
        with_ref.append(r2)
        r3 = json.loads(json.dumps(r2))
        r3["latency"]["vs_ref"]["median"] = 3.06
        moved.append(r3)
    a = compare.medians(_write(tmp_path / "a", with_ref), "latency", "ratio")
    b = compare.medians(_write(tmp_path / "b", moved), "latency", "ratio")
    table = compare.spread(a, b)
    assert compare.summary(table)["median_abs_change"] == pytest.approx(0.02)
    assert "3 × ref" in compare.render(table, compare.summary(table), "ratio")
