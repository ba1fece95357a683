"""Latency statistics from raw samples: median, IQR, a distribution-free 95% CI, pyperf-style warnings."""

from __future__ import annotations

from typing import Any

STDEV_WARN = 0.10  # pyperf: standard deviation at least 10% of the mean
OUTLIER_WARN = 0.50  # pyperf: minimum or maximum at least 50% away from the mean
SHORTEST_RAW_S = 1e-3  # pyperf: a raw sample (all loops) shorter than 1 ms is dominated by timer noise
PROCESS_SPREAD_WARN = 0.10  # process medians further apart than this: the runs disagree


def summarise(per_process: list[list[float]], loops: int) -> dict[str, Any]:
    """Statistics of per-call seconds gathered in several processes; `loops` calls made one raw sample."""
    import numpy as np
    from scipy import stats

    values = np.asarray([v for proc in per_process for v in proc], dtype="float64")
    if values.size == 0:
        raise ValueError("no samples")
    q1, median, q3 = (float(q) for q in np.percentile(values, [25, 50, 75]))
    out: dict[str, Any] = {
        "n": int(values.size),
        "processes": sum(1 for proc in per_process if proc),
        "loops": loops,
        "median_s": median,
        "q1_s": q1,
        "q3_s": q3,
        "iqr_s": q3 - q1,
        "mean_s": float(values.mean()),
        "stdev_s": float(values.std(ddof=1)) if values.size > 1 else 0.0,
        "min_s": float(values.min()),
        "max_s": float(values.max()),
    }
    if values.size >= 2:
        ci = stats.quantile_test(values, q=median, p=0.5).confidence_interval(0.95)
        low, high = (float(v) if np.isfinite(v) else None for v in (ci.low, ci.high))
    else:
        low, high = None, None
    out["ci95_s"] = [low, high]
    medians = [float(np.median(proc)) for proc in per_process if proc]
    out["process_medians_s"] = medians
    out["warnings"] = instability(values, medians, loops)
    return out


def normalised(per_process: list[list[float]], refs: list[list[float]]) -> dict[str, Any]:
    """Samples divided by the reference run around each (`harness.child.refloop`): median, quartiles, 95% CI.

    Machine-wide slow phases slow sample and reference alike, so these ratios compare across cells and
    runs better than seconds do; `ref_median_s` converts them back to seconds at a typical reference speed.
    """
    import numpy as np
    from scipy import stats

    values = np.asarray([s / r for ps, pr in zip(per_process, refs, strict=True) for s, r in zip(ps, pr, strict=True)])
    if values.size == 0:
        raise ValueError("no samples")
    q1, median, q3 = (float(q) for q in np.percentile(values, [25, 50, 75]))
    if values.size >= 2:
        ci = stats.quantile_test(values, q=median, p=0.5).confidence_interval(0.95)
        bounds = [float(v) if np.isfinite(v) else None for v in (ci.low, ci.high)]
    else:
        bounds = [None, None]
    return {
        "median": median,
        "q1": q1,
        "q3": q3,
        "ci95": bounds,
        "process_medians": [
            float(np.median(np.asarray(s) / np.asarray(r))) for s, r in zip(per_process, refs, strict=True) if s
        ],
        "ref_median_s": float(np.median([r for pr in refs for r in pr])),
    }


def instability(values: Any, process_medians: list[float], loops: int) -> list[str]:
    """pyperf's checks (spread, outliers, too-short samples), plus disagreement between processes."""
    import numpy as np

    warn = []
    mean = float(np.mean(values))
    if values.size < 2:
        warn.append(f"only {values.size} value")
    else:
        stdev = float(np.std(values, ddof=1))
        if stdev >= STDEV_WARN * mean:
            warn.append(f"the standard deviation is {stdev / mean:.0%} of the mean")
    for name, value in (("minimum", float(np.min(values))), ("maximum", float(np.max(values)))):
        off = (value - mean) / mean
        if abs(off) >= OUTLIER_WARN:
            warn.append(f"the {name} is {abs(off):.0%} {'lower' if off < 0 else 'greater'} than the mean")
    if float(np.min(values)) * loops < SHORTEST_RAW_S:
        warn.append(f"the shortest raw sample is only {float(np.min(values)) * loops * 1e3:.2f} ms")
    if len(process_medians) >= 2:
        spread = max(process_medians) / min(process_medians) - 1
        if spread >= PROCESS_SPREAD_WARN:
            warn.append(f"process medians differ by {spread:.0%}")
    return warn


def ratio(numerator: dict[str, Any], denominator: dict[str, Any]) -> float:
    """Ratio of two medians."""
    return float(numerator["median_s"]) / float(denominator["median_s"])


def _python_minor(version: str) -> str:
    return ".".join(str(version).split(".")[:2])


def reference_speeds(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], float]:
    """(machine, device, Python minor) -> the reference's fast-state seconds in these rows.

    Every case of a timing process is bracketed by the same reference runs, so each process has one
    reference median (over all its cases' `ref_s`); the fast state is the 10th percentile of those
    process medians (with few processes, close to the fastest), not the single fastest run.
    """
    import numpy as np

    per_process: dict[tuple[str, str, str, str, int], list[float]] = {}
    for row in rows:
        vs = (row.get("latency") or {}).get("vs_ref")
        if not vs:
            continue
        for i, refs in enumerate(vs.get("ref_s") or []):
            key = (row["machine"]["id"], row["device"], _python_minor(row["python"]), row["cell_id"], i)
            per_process.setdefault(key, []).extend(refs)
    medians: dict[tuple[str, str, str], list[float]] = {}
    for (machine, device, py, _, _), refs in per_process.items():
        if refs:
            medians.setdefault((machine, device, py), []).append(float(np.median(refs)))
    return {key: float(np.percentile(values, 10)) for key, values in medians.items()}


def corrected_s(row: dict[str, Any], speeds: dict[tuple[str, str, str], float], field: str = "median") -> float | None:
    """A normalised statistic of the row in seconds at its interpreter's fast reference speed (None: no reference)."""
    vs = (row.get("latency") or {}).get("vs_ref")
    speed = speeds.get((row["machine"]["id"], row["device"], _python_minor(row["python"])))
    if not vs or speed is None or vs.get(field) is None:
        return None
    return float(vs[field]) * speed
