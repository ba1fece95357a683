"""The run estimate: what a part has left moves from its prior pace to the measured one without swinging."""

from __future__ import annotations

from harness.runner.progress import Part


def test_a_part_not_started_is_its_units_at_the_prior_pace() -> None:
    assert Part(units=100, prior_s=0.5).left_s(now=0.0) == 50.0


def test_one_import_does_not_swing_a_part_of_many_cheap_units() -> None:
    # The upgrade part: 19,424 loads at 0.03 s; its first 25 loads carry a child's import (15 s).
    part = Part(units=19_424, prior_s=0.03, done=25, started=0.0)
    left = part.left_s(now=15.0)
    assert 19_399 * 0.03 < left < 2 * 19_424 * 0.03  # was ~2 h for a 10-minute part


def test_the_estimate_follows_the_measured_pace() -> None:
    # Half the cases done at twice the prior pace: what is left is close to the measured pace, not the prior.
    part = Part(units=1_000, prior_s=1.0, done=500, started=0.0)
    assert 0.9 * 500 * 2.0 < part.left_s(now=1_000.0) < 500 * 2.0


def test_a_finished_part_has_nothing_left() -> None:
    assert Part(units=10, prior_s=1.0, done=3, started=0.0, finished=True).left_s(now=5.0) == 0.0
