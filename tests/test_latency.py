"""The framework-free parts of the timing process: input, thread settings, loop calibration."""

from __future__ import annotations

import time

import numpy as np

from harness import latency


def test_padded_input_pads_the_end_of_every_sequence() -> None:
    cfg = {"units": 64, "timesteps": 352, "features": 4, "batch": 32, "pad_fraction": 0.25, "seed": 0}
    x, lengths = latency.padded_input(cfg)
    assert x.shape == (32, 352, 4) and x.dtype == np.float32
    assert (lengths == 264).all()
    assert not x[:, 264:, :].any()
    assert (np.abs(x[:, :264, :]).sum(axis=2) > 0).all()  # no real step looks like padding


def test_thread_env_fixes_every_backend_or_nothing() -> None:
    env = latency.thread_env(1)
    assert env["OMP_NUM_THREADS"] == env["TF_NUM_INTRAOP_THREADS"] == env["TF_NUM_INTEROP_THREADS"] == "1"
    assert "intra_op_parallelism_threads=1" in env["XLA_FLAGS"]
    assert latency.thread_env(0) == {}


def test_calibration_reaches_the_minimum_sample_time() -> None:
    def call() -> None:
        time.sleep(0.002)

    loops = latency.calibrate(call, 0.02, warm_s=0.002)
    assert 5 <= loops <= 16
    assert latency.calibrate(call, 0.02, warm_s=0.5) == 1  # a call slower than a sample needs no calibration


def test_timed_returns_seconds_per_call() -> None:
    assert 0.001 <= latency._timed(lambda: time.sleep(0.001), 4) < 0.01
