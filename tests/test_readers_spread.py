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


SWEEP_CELL = Path(__file__).parent.parent / "results" / "x86_64-intel-xeon-2c-24g" / "tf2.21.0-keras3.15.1.jsonl"


def _sweep_row(model: str, samples: list[list[float]], prev: list[list[float]] | None, run: str) -> dict[str, Any]:
    """A committed sweep row at one point with known samples: what `paired` pairs, and the previous run it keeps."""
    case = f"lstm:{model}:512:32:64:0.5"
    rows = [json.loads(line) for line in SWEEP_CELL.read_text().splitlines()]
    row: dict[str, Any] = next(r for r in rows if r["scenario"] == "latency-sweep" and r["case_id"] == case)
    row["latency"]["samples_s"] = samples
    row.pop("previous", None)
    if prev is not None:
        row["previous"] = {"run_id": run, "median_s": prev[0][0], "samples_s": prev}
    return row


def test_a_sweeps_paired_ratios_against_the_previous_run_each_row_keeps(tmp_path: Path) -> None:
    # masked is 2x unmasked and 3x the real work now; 2.5x and 3x in the run before (kept in each row)
    now = {"masked": [[6.0, 6.0, 6.0], [6.0, 6.0, 6.0]], "unmasked": [[3.0] * 3] * 2, "real-work": [[2.0] * 3] * 2}
    before = {"masked": [[7.5] * 3] * 2, "unmasked": [[3.0] * 3] * 2, "real-work": [[2.5] * 3] * 2}
    rows = [_sweep_row(m, now[m], before[m], "m@t0") for m in now]
    folder = _write(tmp_path / "r", rows)
    assert compare.chosen(folder, "latency-sweep", "auto") == compare.PAIRED
    a = compare.medians(folder, "latency-sweep", compare.PAIRED, previous=True)
    b = compare.medians(folder, "latency-sweep", compare.PAIRED)
    assert a.xs("lstm:512:32:64:0.5 overhead", level="case")["value"].iloc[0] == pytest.approx(2.5)
    table = compare.spread(a, b)
    s = compare.summary(table)
    assert s["rows"] == 2 and s["max_abs_change"] == pytest.approx(0.2)
    assert s["overlap"] == 1  # waste is 3x in both; the overhead's constant samples give no overlapping interval
    text = compare.render(table, s, compare.PAIRED)
    assert "1 of 2 95% intervals overlap" in text and "tf2.21.0-keras3.15.1 overhead" in text and "⚠ no" in text


def test_paired_ratios_need_the_same_previous_run_and_a_sweep(
    tmp_path: Path, latency_rows: list[dict[str, Any]]
) -> None:
    same = [[1.0] * 3] * 2
    rows = [_sweep_row("masked", same, same, "m@t0"), _sweep_row("unmasked", same, same, "m@t1")]
    with pytest.raises(UserError, match="keeping a previous run"):
        compare.medians(_write(tmp_path / "r", rows), "latency-sweep", compare.PAIRED, previous=True)
    plain = _write(tmp_path / "plain", latency_rows)
    assert compare.chosen(plain, "latency", "auto") == "ratio"
    with pytest.raises(UserError, match="not a sweep"):
        compare.medians(plain, "latency", compare.PAIRED)
