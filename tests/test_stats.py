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
