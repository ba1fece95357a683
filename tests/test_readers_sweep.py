"""The sweep's readers on frames of known numbers: the fitted line recovers its slope, the ratios and their
intervals, the previous run's agreement, a backend that computes the padded steps, and the answers' sentences."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from conftest import ROOT

from harness.decl import cells
from harness.readers.sections import sweep

MATRIX = cells.load(ROOT / "cells" / "cells.toml")
TF, JAX = "tf2.21.0-keras3.15.1", "jax0.10.2-keras3.15.1"


def point(cell: str, model: str, steps: int, pad: float, ms: float, prev: float | None = None, **kw: Any) -> dict:
    rec = {"device": "cpu", "cell": cell, "case": f"lstm:{model}:{steps}:{kw.get('batch', 32)}:64:{pad}", "rnn": "lstm",
           "model": model, "timesteps": steps, "batch": kw.get("batch", 32), "units": 64, "pad": pad, "median_ms": ms,
           "ci_low_ms": ms * 0.95, "ci_high_ms": ms * 1.05, "ref_median": ms, "ref_low": ms * 0.95,
           "ref_high": ms * 1.05}  # fmt: skip
    p = ms if prev is None else prev
    rec.update(
        prev_median=p, prev_low=p * 0.95, prev_high=p * 1.05, samples=samples(ms, model), prev_samples=samples(p, model)
    )
    return rec


WOBBLE = {"masked": (0.98, 1.0, 1.02, 0.99), "unmasked": (1.0, 0.99, 1.01, 1.02), "real-work": (1.01, 1.0, 0.99, 0.98)}


def samples(ms: float, model: str) -> list[list[float]]:
    """Two processes of four samples, seconds, each model with its own small wobble."""
    w = WOBBLE[model]
    return [[ms / 1e3 * f for f in w], [ms / 1e3 * f for f in reversed(w)]]


def frame(computes: bool = False, drift: float = 1.0, both: bool = False) -> pd.DataFrame:
    """TF: masked time follows the real steps; jax (`computes`): masked time follows all steps."""
    recs = []
    for cell, flat in ((TF, both), (JAX, computes)):
        for steps in (32, 128, 512, 1024):  # time = 2 ms + 0.01 ms per step (the real work: per real step)
            recs += [point(cell, "masked", steps, 0.5, 2 + 0.01 * steps * (1.0 if flat else 0.6)),
                     point(cell, "unmasked", steps, 0.5, 2 + 0.01 * steps),
                     point(cell, "real-work", steps, 0.5, 2 + 0.01 * steps * 0.5)]  # fmt: skip
        for pad in (0.0, 0.25, 0.75, 0.9):
            real = 2 + 0.01 * 512 * (1 - pad)
            masked = 2 + 0.01 * 512 * (1.0 if flat else 1.1 * (1 - pad))
            recs += [point(cell, "masked", 512, pad, masked, masked * drift), point(cell, "unmasked", 512, pad, 7.12),
                     point(cell, "real-work", 512, pad, real)]  # fmt: skip
    return pd.DataFrame(recs)


def test_the_fitted_line_recovers_the_cost_per_step() -> None:
    fits = sweep.fits(frame()).set_index(["cell", "model"])
    assert fits.loc[(TF, "unmasked"), "b_us"] == pytest.approx(10.0)  # 0.01 ms per step
    assert fits.loc[(TF, "unmasked"), "a_ms"] == pytest.approx(2.0)
    assert fits.loc[(TF, "real-work"), "b_us"] == pytest.approx(5.0)
    assert fits.loc[(TF, "masked"), "r2"] == pytest.approx(1.0)
    assert (fits["b_low_us"] <= fits["b_us"]).all() and (fits["b_us"] <= fits["b_high_us"]).all()


def test_ratios_with_intervals_and_the_previous_run() -> None:
    rt = sweep.ratios(frame()).set_index(["cell", "timesteps", "pad"])
    half = rt.loc[(TF, 512, 0.5)]
    assert half["waste"] == pytest.approx((2 + 0.01 * 512 * 0.6) / (2 + 0.01 * 512 * 0.5), rel=0.03)
    assert half["waste_low"] < half["waste"] < half["waste_high"]
    assert half["overhead"] == pytest.approx((2 + 0.01 * 512 * 0.6) / (2 + 0.01 * 512), rel=0.03)
    assert bool(rt["waste_agrees"].all())  # the same numbers twice agree
    moved = sweep.ratios(frame(drift=1.3)).set_index(["cell", "timesteps", "pad"])
    assert not moved.loc[(TF, 512, 0.9), "waste_agrees"] and moved.loc[(TF, 512, 0.5), "waste_agrees"]


def test_a_backend_that_computes_the_padded_steps_is_named() -> None:
    flat = sweep.shrinks(frame(computes=True)).set_index("cell")
    assert flat.loc[JAX, "computes padded steps"] and not flat.loc[TF, "computes padded steps"]
    assert flat.loc[JAX, "masked"] == pytest.approx(1.0) and flat.loc[TF, "real-work"] < 0.5
    lines = sweep.answers(frame(computes=True), MATRIX)
    assert any(line.startswith("At 50% padding (512 steps, batch 32, 64 units), on Keras 3.15.1 on TF CPU: masked "
                               "LSTM costs 1.12× the real work") for line in lines), lines  # fmt: skip
    assert any("sorting by length would save 11%" in line for line in lines), lines
    assert any(line.startswith("On Keras 3.15.1 on jax CPU masked LSTM do not get cheaper") for line in lines), lines
    assert not any("Keras 3.15.1 on TF CPU masked" in line for line in lines)
    both = sweep.answers(frame(computes=True, both=True), MATRIX)  # every cell computes them: one sentence
    assert any(line.startswith("Everywhere measured masked LSTM do not get cheaper") for line in both), both


def test_the_first_screen_sentence_names_each_place_and_the_saving() -> None:
    line = sweep.headline(frame(), MATRIX)
    assert line.startswith("At 50% padding a masked LSTM takes ") and "on Keras 3.15.1 on TF CPU" in line, line
    assert "sorting by length would save 11%–" in line and line.endswith("%.")


def test_the_first_screen_claims_a_saving_only_where_the_interval_is_over_one() -> None:
    df = frame()
    at = (df["cell"] == JAX) & (df["timesteps"] == 512) & (df["pad"] == 0.5)
    real = df.loc[at & (df["model"] == "real-work"), "samples"].iloc[0]
    spread = iter((0.5, 1.9, 0.6, 1.7, 0.55, 1.8, 0.7, 1.6))  # per-sample ratios on both sides of 1
    noisy = [[v * next(spread) for v in proc] for proc in real]
    df.loc[at & (df["model"] == "masked"), "samples"] = pd.Series(
        [noisy], index=df.index[at & (df["model"] == "masked")]
    )
    line = sweep.headline(df, MATRIX)
    assert "[95% CI 0." in line and "on Keras 3.15.1 on jax CPU" in line, line
    assert line.endswith("where it is measurably slower."), line


def test_a_place_where_only_one_rnn_computes_the_padded_steps_says_so() -> None:
    df = frame(computes=True)  # jax's LSTM computes the padded steps; its GRU (TF's numbers) does not
    gru = df[df["cell"] == TF].assign(cell=JAX, rnn="gru", case=lambda d: d["case"].str.replace("lstm", "gru"))
    lines = sweep.answers(pd.concat([df, gru], ignore_index=True), MATRIX)
    assert any(line.startswith("On Keras 3.15.1 on jax CPU (LSTM only) masked LSTM do not get cheaper")
               for line in lines), lines  # fmt: skip


def test_the_run_time_on_the_page_adds_each_cells_processes_per_device() -> None:
    rows = [{"device": "cpu", "cell_id": TF, "duration_s": 120.0}, {"device": "cpu", "cell_id": TF, "duration_s": 120},
            {"device": "cpu", "cell_id": JAX, "duration_s": 180.0}, {"device": "gpu", "cell_id": JAX, "duration_s": 60},
            {"device": "cpu", "cell_id": JAX, "duration_s": None}]  # fmt: skip
    other = {"scenario": "latency", "device": "cpu", "cell_id": TF, "duration_s": 600.0}  # another scenario's time
    rows = [{"scenario": "latency-sweep", **r} for r in rows] + [other]
    assert sweep.busy_minutes(rows, "latency-sweep") == {"cpu": 5.0, "gpu": 1.0}
