"""How far latency figures move between two runs of the same cells (two results folders, or one folder's rows
against the previous run each row keeps), from rows only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness import stats
from harness.errors import UserError
from harness.store import rowfiles

PAIRED = "paired"
STATISTICS = ("ratio", "corrected_s", "median_s", "q1_s", "min_s", "mean_s", PAIRED)
AUTO = "auto"  # paired for a sweep's rows, else ratio


def _rows(results: Path, scenario: str) -> list[dict[str, Any]]:
    return [
        r
        for r in rowfiles.read_all(results, older=True)
        if r["scenario"] == scenario and r.get("latency") and r.get("complete", True)
    ]


def is_sweep(rows: list[dict[str, Any]]) -> bool:
    """Rows of a sweep: every point names its model and padding (their ratios are paired, see `paired`)."""
    return bool(rows) and all({"model", "pad"} <= set(r.get("params") or {}) for r in rows)


def chosen(results: Path, scenario: str, statistic: str) -> str:
    """The statistic `auto` stands for in these rows: paired ratios for a sweep, else the reference ratio."""
    if statistic != AUTO:
        return statistic
    return PAIRED if is_sweep(_rows(results, scenario)) else "ratio"


def medians(results: Path, scenario: str, statistic: str = "median_s", previous: bool = False) -> pd.DataFrame:
    """(machine, device, cell, case) -> the statistic (default: median) of every complete latency row.

    `ratio`: the median of sample / in-process reference (unitless: what moves least between runs);
    `corrected_s`: the same in seconds at the rows' fast-state reference speed (which each run estimates);
    `paired`: a sweep's masked / unmasked and masked / real-work ratios per point (see `paired`).
    With `previous`, the figures of the run each row keeps in `previous` instead of its own.
    """
    if statistic not in STATISTICS:
        raise UserError(f"statistic {statistic!r} is not one of {[*STATISTICS, AUTO]}")
    rows = _rows(results, scenario)
    if statistic == PAIRED:
        return paired(results, scenario, rows, previous)
    if previous:
        if statistic not in ("median_s", "ratio"):
            raise UserError(f"rows keep only the previous run's median_s and ratio, not {statistic!r}")
        rows = [{**r, "latency": _previous_latency(r["previous"])} for r in rows if r.get("previous")]
    speeds = stats.reference_speeds(rows)
    records = [
        {
            "machine": r["machine"]["id"],
            "device": r["device"],
            "cell": r["cell_id"],
            "case": r["case_id"],
            "value": _value(r, statistic, speeds),
            "hash": r.get("measured_by", "latency/1"),  # schema-1 rows: what latency/1 declares it measures
        }
        for r in rows
    ]
    records = [r for r in records if r["value"] is not None]
    if not records:
        hint = (
            " timed with the in-process reference (use --statistic median_s)"
            if statistic in ("ratio", "corrected_s")
            else ""
        )
        kept = " that keep a previous run" if previous else ""
        raise UserError(f"{results}: no complete rows of scenario {scenario!r}{kept}{hint}")
    return pd.DataFrame(records).set_index(["machine", "device", "cell", "case"])


def _previous_latency(prev: dict[str, Any]) -> dict[str, Any]:
    return {"median_s": prev.get("median_s"), "vs_ref": prev.get("vs_ref")}


def _value(row: dict[str, Any], statistic: str, speeds: dict[tuple[str, str, str], float]) -> float | None:
    if statistic == "corrected_s":
        return stats.corrected_s(row, speeds)
    if statistic == "ratio":
        vs = row["latency"].get("vs_ref")
        return float(vs["median"]) if vs else None
    value = row["latency"].get(statistic)
    return None if value is None else float(value)


def paired(results: Path, scenario: str, rows: list[dict[str, Any]], previous: bool = False) -> pd.DataFrame:
    """A sweep's ratios per point (case `<point> <ratio>`): the median of per-sample ratios of two models timed in
    the same processes, with its 95% CI (`readers.sections.sweep.paired`, the figures its page quotes)."""
    from harness.readers.sections import sweep

    if not is_sweep(rows):
        raise UserError(f"{results}: the rows of scenario {scenario!r} are not a sweep's (no paired ratios)")
    points: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for r in rows:
        point = ":".join(v for v in r["case_id"].split(":") if v != r["params"]["model"])  # the case without its model
        points.setdefault((r["machine"]["id"], r["device"], r["cell_id"], point), {})[r["params"]["model"]] = r
    records = []
    for (machine, device, cell, point), by in points.items():
        for name, (num, den) in sweep.RATIOS.items():
            if num not in by or den not in by:
                continue
            pair = [by[num], by[den]]
            if previous:
                before = [r.get("previous") or {} for r in pair]
                if not all(k.get("samples_s") for k in before) or before[0].get("run_id") != before[1].get("run_id"):
                    continue
                samples = [k["samples_s"] for k in before]
            else:
                samples = [r["latency"].get("samples_s") for r in pair]
            got = sweep.paired(samples[0], samples[1])
            if got is None:
                continue
            records.append({"machine": machine, "device": device, "cell": cell, "case": f"{point} {name}",
                            "value": got[0], "low": got[1], "high": got[2],
                            "hash": by[num].get("measured_by", "latency/1")})  # fmt: skip
    if not records:
        which = " keeping a previous run" if previous else ""
        raise UserError(f"{results}: no sweep points of scenario {scenario!r}{which} with samples to pair")
    return pd.DataFrame(records).set_index(["machine", "device", "cell", "case"])


def spread(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per (cell, case) in both runs: the two figures, the relative change b/a - 1, and, where both carry a 95%
    CI, whether the two intervals overlap."""
    both = a.join(b, how="inner", lsuffix="_a", rsuffix="_b")
    if both.empty:
        raise UserError("the two runs share no (machine, device, cell, case) latency rows")
    stale = both[both["hash_a"] != both["hash_b"]]
    if not stale.empty:
        raise UserError(f"{len(stale)} rows were measured by another version of the latency code in one of the runs")
    both["change"] = both["value_b"] / both["value_a"] - 1
    keep = ["value_a", "value_b", "change"]
    if "low_a" in both and "low_b" in both:
        both["overlap"] = (both["low_a"] <= both["high_b"]) & (both["low_b"] <= both["high_a"])
        keep.append("overlap")
    return both[keep]


def summary(table: pd.DataFrame) -> dict[str, Any]:
    """Distribution of |change| over all shared rows (the run-to-run spread), and how many CIs overlap."""
    moved = table["change"].abs()
    out = {
        "rows": int(moved.size),
        "median_abs_change": float(moved.median()),
        "p90_abs_change": float(moved.quantile(0.9)),
        "max_abs_change": float(moved.max()),
        "within_5pct": float((moved <= 0.05).mean()),
        "within_10pct": float((moved <= 0.10).mean()),
    }
    if "overlap" in table:
        out["overlap"] = int(table["overlap"].sum())
    return out


def _group(table: pd.DataFrame, statistic: str) -> pd.Series:
    """What the per-group lines gather: per cell and ratio for paired ratios (one per point), else per case."""
    if statistic == PAIRED:
        idx = table.index.to_frame(index=False)
        return pd.Series([f"{c} {k.rsplit(' ', 1)[-1]}" for c, k in zip(idx["cell"], idx["case"], strict=True)],
                         index=table.index, name="cell ratio")  # fmt: skip
    return pd.Series(table.index.get_level_values("case"), index=table.index, name="case")


def render(table: pd.DataFrame, stats: dict[str, Any], statistic: str = "median_s") -> str:
    """Markdown: the summary line, then per case (per cell and ratio for paired ratios) the median |change|, then
    every row."""
    what = "ratios" if statistic in ("ratio", PAIRED) else "medians"
    line = (
        f"{stats['rows']} {what} in both runs: |change| median {stats['median_abs_change']:.1%}, "
        f"90th percentile {stats['p90_abs_change']:.1%}, max {stats['max_abs_change']:.1%}; "
        f"{stats['within_5pct']:.0%} within 5%, {stats['within_10pct']:.0%} within 10%"
    )
    if "overlap" in stats:
        line += f"; {stats['overlap']} of {stats['rows']} 95% intervals overlap"
    lines = [line + ".", ""]
    group = _group(table, statistic)
    per = table["change"].abs().groupby(list(group)).agg(["median", "max"])
    per.index.name = group.name
    per.columns = ["median |change|", "max |change|"]
    lines += [str(per.map(lambda v: f"{v:.1%}").to_markdown()), ""]
    shown = table.reset_index()
    shown = shown[["cell", "case", "value_a", "value_b", "change", *(["overlap"] if "overlap" in shown else [])]]
    for col in ("value_a", "value_b"):
        if statistic == "ratio":
            shown[col] = shown[col].map(lambda v: f"{v:.3g} × ref")
        elif statistic == PAIRED:
            shown[col] = shown[col].map(lambda v: f"{v:.3g}×")
        else:
            shown[col] = (shown[col] * 1e3).map(lambda v: f"{v:.3g} ms")
    shown["change"] = shown["change"].map(lambda v: f"{v:+.1%}")
    if "overlap" in shown:
        shown["overlap"] = shown["overlap"].map(lambda v: "yes" if v else "⚠ no")
    lines += [str(shown.rename(columns={"value_a": "run A", "value_b": "run B"}).to_markdown(index=False))]
    return "\n".join(lines) + "\n"
