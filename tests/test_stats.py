"""Latency statistics: median, IQR, a distribution-free CI, and pyperf-style instability warnings."""

from __future__ import annotations

import pytest

from harness import stats


def test_summary_of_steady_samples_has_no_warning() -> None:
    per_process = [[0.0100, 0.0101, 0.0099, 0.0100, 0.0102], [0.0100, 0.0098, 0.0101, 0.0100, 0.0099]]
    s = stats.summarise(per_process, loops=3)
    assert s["n"] == 10 and s["processes"] == 2 and s["loops"] == 3
    assert s["median_s"] == pytest.approx(0.0100)
    low, high = s["ci95_s"]
    assert low <= s["median_s"] <= high
    assert s["q1_s"] <= s["median_s"] <= s["q3_s"] and s["iqr_s"] == pytest.approx(s["q3_s"] - s["q1_s"])
    assert s["warnings"] == []


def test_spread_outliers_and_disagreeing_processes_are_flagged() -> None:
    per_process = [[0.010] * 6, [0.020, 0.021, 0.019, 0.020, 0.050, 0.020]]
    warnings = " | ".join(stats.summarise(per_process, loops=1)["warnings"])
    assert "standard deviation" in warnings
    assert "maximum" in warnings
    assert "process medians differ by 100%" in warnings


def test_too_short_raw_samples_are_flagged() -> None:
    s = stats.summarise([[1e-4] * 5], loops=2)
    assert any("shortest raw sample" in w for w in s["warnings"])


def test_a_single_value_has_no_interval() -> None:
    s = stats.summarise([[0.5]], loops=1)
    assert s["ci95_s"] == [None, None] and "only 1 value" in s["warnings"]


def test_no_samples_is_an_error() -> None:
    with pytest.raises(ValueError):
        stats.summarise([[]], loops=1)


def test_normalising_by_the_reference_cancels_a_slow_process() -> None:
    # Process 2 runs 1.5x slower throughout; the reference timed around its samples slows alike.
    samples = [[0.020, 0.021, 0.020, 0.019], [0.030, 0.0315, 0.030, 0.0285]]
    refs = [[0.010, 0.010, 0.010, 0.010], [0.015, 0.015, 0.015, 0.015]]
    n = stats.normalised(samples, refs)
    assert n["process_medians"] == pytest.approx([2.0, 2.0])
    assert n["median"] == pytest.approx(2.0)
    low, high = n["ci95"]
    assert low <= n["median"] <= high
    assert n["ref_median_s"] == pytest.approx(0.0125)
    # ... which the plain statistics cannot do.
    assert "process medians differ by 50%" in stats.summarise(samples, loops=1)["warnings"]


def _row(cell: str, python: str, ratio: float, refs: list[list[float]]) -> dict[str, object]:
    return {
        "cell_id": cell,
        "python": python,
        "device": "cpu",
        "machine": {"id": "m"},
        "latency": {"vs_ref": {"median": ratio, "ref_s": refs}},
    }


def test_reference_speed_is_the_fast_state_per_interpreter() -> None:
    rows = [
        _row("a", "3.11.9", 2.0, [[0.010, 0.011], [0.007, 0.007]]),
        _row("b", "3.11.4", 3.0, [[0.012, 0.012]]),
        _row("c", "3.12.1", 2.0, [[0.009, 0.009]]),
        {"cell_id": "d", "python": "3.11.9", "device": "cpu", "machine": {"id": "m"}, "latency": {"median_s": 1.0}},
    ]
    speeds = stats.reference_speeds(rows)
    # 3.11: process medians 0.0105, 0.007 (cell a) and 0.012 (cell b); their 10th percentile is 0.0077
    assert speeds == {("m", "cpu", "3.11"): pytest.approx(0.0077), ("m", "cpu", "3.12"): pytest.approx(0.009)}
    assert stats.corrected_s(rows[1], speeds) == pytest.approx(3.0 * 0.0077)
    assert stats.corrected_s(rows[2], speeds) == pytest.approx(0.018)
    assert stats.corrected_s(rows[3], speeds) is None  # timed before the reference existed
