"""The framework-free parts of the timing handler: thread settings, loop calibration, per-call seconds.

Time is faked where it is measured (`time.perf_counter`), so no outcome depends on how fast this machine is.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.child import latency
from harness.runner import timing


class FakeClock:
    """`perf_counter` that advances only when the timed function is called: each call lasts `call_s`."""

    def __init__(self, call_s: float) -> None:
        self.now, self.call_s = 100.0, call_s

    def perf_counter(self) -> float:
        return self.now

    def call(self) -> None:
        self.now += self.call_s


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    fake = FakeClock(0.002)
    monkeypatch.setattr(latency.time, "perf_counter", fake.perf_counter)
    yield fake


def test_thread_env_fixes_every_backend_or_nothing() -> None:
    env = timing.thread_env(1)
    assert env["OMP_NUM_THREADS"] == env["TF_NUM_INTRAOP_THREADS"] == env["TF_NUM_INTEROP_THREADS"] == "1"
    assert "intra_op_parallelism_threads=1" in env["XLA_FLAGS"]
    assert timing.thread_env(0) == {}


def test_calibration_reaches_the_minimum_sample_time(clock: FakeClock) -> None:
    loops = latency.calibrate(clock.call, 0.02, warm_s=0.002)
    assert loops * clock.call_s >= 0.02 and loops <= 11  # 10 calls of 2 ms make the 20 ms sample (11: rounding up)
    assert latency.calibrate(clock.call, 0.02, warm_s=0.5) == 1  # a call slower than a sample needs no calibration


def test_calibration_stops_at_the_loop_cap(clock: FakeClock) -> None:
    clock.call_s = 1e-9
    assert latency.calibrate(clock.call, 0.02, warm_s=1e-9) == latency.MAX_LOOPS


def test_timed_returns_seconds_per_call(clock: FakeClock) -> None:
    assert latency._timed(clock.call, 4) == pytest.approx(0.002)


def test_warm_sweeps_call_every_case_under_the_budget_in_turn(clock: FakeClock) -> None:
    calls: list[str] = []

    def case(name: str, seconds: float) -> object:
        def call() -> None:
            calls.append(name)
            clock.now += seconds

        return call

    ready = {"fast": case("fast", 0.002), "slow": case("slow", 0.9), "cold": case("cold", 0.004)}
    out = {
        "fast": {"first_call_s": 0.01, "warm_call_s": 0.003},
        "slow": {"first_call_s": 0.9, "warm_call_s": 0.9},  # over the budget: its first call was warm-up enough
        "cold": {"first_call_s": 0.3, "warm_call_s": 0.25},  # its warm-up call came before the others were built
    }
    latency.warm_sweeps(ready, out, 2, budget=0.5)  # type: ignore[arg-type]
    assert calls == ["fast", "cold", "fast", "cold"]
    assert out["fast"]["warm_call_s"] == 0.002 and out["cold"]["warm_call_s"] == 0.004
    assert out["slow"]["warm_call_s"] == 0.9
    latency.warm_sweeps(ready, out, 0, budget=0.5)  # type: ignore[arg-type]
    assert len(calls) == 4
