"""The latency section of the report, from stored rows of a real bench run (no framework involved)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from harness.decl.cells import Matrix
from harness.decl.scenarios import Scenario
from harness.readers import model, publish
from harness.readers.sections import latency

MASKED = "lstm:masked:predict_on_batch"


def latency_scenario(scens: list[Scenario]) -> Scenario:
    return next(s for s in scens if s.id == "latency")


def tables_of(rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]) -> tuple[Any, list[str], Any, Any]:
    """(the frame, the cells in version order, medians, ratios) of stored latency rows."""
    scen = latency_scenario(scens)
    df = latency.frame(rows, scen, matrix, lambda *a: True)
    order = [c.id for c in sorted(matrix.cells, key=model.cell_order)]
    medians, ratios = latency.tables(df, order, scen)
    return df, order, medians, ratios


def test_tables_hold_medians_with_ci_and_ratios(
    latency_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]
) -> None:
    df, order, medians, ratios = tables_of(latency_rows, matrix, scens)
    assert list(medians.index) == [c for c in order if c in set(df["cell"])]
    assert "[" in medians.loc["tf2.21.0-keras3.15.1", "lstm:masked:predict_on_batch"]  # median [CI]
    by = df.set_index(["cell", "case"])["median_ms"]
    keras, floor = by[("torch2.13.0-keras3.15.1", MASKED)], by[("torch2.13.0-keras3.15.1", "lstm:floor:direct")]
    assert ratios.loc["torch2.13.0-keras3.15.1", "LSTM Keras / floor"] == f"{keras / floor:.2f}"


def test_section_separates_devices_and_draws_a_plot(
    latency_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario], tmp_path: Path
) -> None:
    scen = latency_scenario(scens)
    # A copy of one cell's rows relabelled as another device: only to check that devices stay apart.
    other = copy.deepcopy([r for r in latency_rows if r["cell_id"] == "jax0.10.2-keras3.15.1"])
    for r in other:
        r["device"] = "gpu:Test"
    order = sorted(matrix.cells, key=model.cell_order)
    lines = latency.section(latency_rows + other, scen, matrix, order, lambda *a: True, tmp_path, tmp_path, "m")
    text = "\n".join(lines)
    assert "#### Device: cpu" in text and "#### Device: gpu:Test" in text
    assert text.index("#### Device: cpu") < text.index("#### Device: gpu:Test")
    assert "Machine drift" not in text and "LSTM Keras / floor" in text
    assert (tmp_path / "latency-m-cpu.png").stat().st_size > 10_000
    assert (tmp_path / "latency-m-gpu-Test.png").exists()


def test_stale_and_missing_rows_are_not_shown_as_measured(
    latency_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario], tmp_path: Path
) -> None:
    rows = copy.deepcopy(latency_rows)
    for r in rows:
        if r["cell_id"] == "tf2.21.0-keras3.15.1":
            r["scenario_hash"] = "000000000000"
    publish.write(rows, matrix, scens, tmp_path / "report.md", tmp_path / "plots", summary_path=tmp_path / "s.json")
    section = (tmp_path / "report" / f"latency-{rows[0]['machine']['id']}.md").read_text()
    assert "Not timed (no current row)" in section and "`tf2.21.0-keras3.15.1`" in section.split("####")[0]
    assert "tf2.21.0-keras3.15.1 " not in section.split("Ratios of medians")[1].split("<details>")[0]


def test_rows_of_different_bench_runs_are_named_as_such(
    latency_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario], tmp_path: Path
) -> None:
    scen = latency_scenario(scens)
    order = sorted(matrix.cells, key=model.cell_order)
    one = copy.deepcopy(latency_rows)
    for r in one:
        r["run_id"] = "m@2026-11-29T10:00:00Z"
    text = "\n".join(latency.section(one, scen, matrix, order, lambda *a: True, tmp_path, tmp_path, "m"))
    assert "separate bench runs" not in text
    for r in one:
        if r["cell_id"] == "jax0.10.2-keras3.15.1":
            r["run_id"] = "m@2026-11-30T09:00:00Z"
    text = "\n".join(latency.section(one, scen, matrix, order, lambda *a: True, tmp_path, tmp_path, "m"))
    assert "**These rows come from 2 separate bench runs**" in text
    assert "`m@2026-11-30T09:00:00Z`: 1 cells (jax0.10.2-keras3.15.1)" in text


def test_the_warning_mark_follows_the_figures_own_interval(
    latency_rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]
) -> None:
    df, _, medians, _ = tables_of(latency_rows, matrix, scens)
    by = df.set_index(["cell", "case"])
    marks = 0
    for (cell, case), rec in by.iterrows():
        if rec["median_ms"] != rec["median_ms"]:  # no figure (a failed case): nothing to mark
            continue
        width = rec["ci_high_ms"] - rec["ci_low_ms"]
        wide = width != width or width / rec["median_ms"] > latency.UNSTABLE  # NaN: no interval at all
        assert ("⚠" in medians.loc[cell, case]) == bool(wide), (cell, case)
        marks += bool(wide)
    assert 0 < marks < len(by)  # these rows hold both kinds: the mark tells them apart


def test_the_masked_over_unmasked_interval_divides_the_two_cis_crosswise() -> None:
    import pandas as pd

    from harness.readers.sections import latency as section

    df = pd.DataFrame(
        [
            {"cell": "c", "case": "lstm:masked:predict_on_batch", "median_ms": 12.0, "ci_low_ms": 11.0,
             "ci_high_ms": 13.0},
            {"cell": "c", "case": "lstm:unmasked:predict_on_batch", "median_ms": 10.0, "ci_low_ms": 9.0,
             "ci_high_ms": 11.0},
        ]
    )  # fmt: skip
    ratio, low, high = section.ratio_bounds(df, "c", *section.RATIO_SERIES["LSTM"]) or (0.0, 0.0, 0.0)
    assert (round(ratio, 3), round(low, 3), round(high, 3)) == (1.2, 1.0, 1.444)
    assert section.ratio_bounds(df, "c", *section.RATIO_SERIES["GRU"]) is None  # no GRU figures
