"""How far latency medians move between two runs of the same cells (two results folders), from rows only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness import stats
from harness.errors import UserError
from harness.store import rowfiles

STATISTICS = ("ratio", "corrected_s", "median_s", "q1_s", "min_s", "mean_s")


def medians(results: Path, scenario: str, statistic: str = "median_s") -> pd.DataFrame:
    """(machine, device, cell, case) -> the statistic (default: median) of every complete latency row.

    `ratio`: the median of sample / in-process reference (unitless: what moves least between runs);
    `corrected_s`: the same in seconds at the rows' fast-state reference speed (which each run estimates).
    """
    if statistic not in STATISTICS:
        raise UserError(f"statistic {statistic!r} is not one of {list(STATISTICS)}")
    rows = [
        r
        for r in rowfiles.read_all(results, older=True)
        if r["scenario"] == scenario and r.get("latency") and r.get("complete", True)
    ]
    speeds = stats.reference_speeds(rows)
    records = [
        {
            "machine": r["machine"]["id"],
            "device": r["device"],
            "cell": r["cell_id"],
            "case": r["case_id"],
            "median_s": _value(r, statistic, speeds),
            "hash": r.get("measured_by", "latency/1"),  # schema-1 rows: what latency/1 declares it measures
        }
        for r in rows
    ]
    records = [r for r in records if r["median_s"] is not None]
    if not records:
        hint = (
            " timed with the in-process reference (use --statistic median_s)"
            if statistic in ("ratio", "corrected_s")
            else ""
        )
        raise UserError(f"{results}: no complete rows of scenario {scenario!r}{hint}")
    return pd.DataFrame(records).set_index(["machine", "device", "cell", "case"])


def _value(row: dict[str, Any], statistic: str, speeds: dict[tuple[str, str, str], float]) -> float | None:
    if statistic == "corrected_s":
        return stats.corrected_s(row, speeds)
    if statistic == "ratio":
        vs = row["latency"].get("vs_ref")
        return float(vs["median"]) if vs else None
    return float(row["latency"][statistic])


def spread(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per (cell, case) in both runs: the two medians and the relative change b/a - 1."""
    both = a.join(b, how="inner", lsuffix="_a", rsuffix="_b")
    if both.empty:
        raise UserError("the two results folders share no (machine, device, cell, case) latency rows")
    stale = both[both["hash_a"] != both["hash_b"]]
    if not stale.empty:
        raise UserError(f"{len(stale)} rows were measured by another version of the latency code in one of the runs")
    both["change"] = both["median_s_b"] / both["median_s_a"] - 1
    return both[["median_s_a", "median_s_b", "change"]]


def summary(table: pd.DataFrame) -> dict[str, Any]:
    """Distribution of |change| over all shared rows (the run-to-run spread of medians)."""
    moved = table["change"].abs()
    return {
        "rows": int(moved.size),
        "median_abs_change": float(moved.median()),
        "p90_abs_change": float(moved.quantile(0.9)),
        "max_abs_change": float(moved.max()),
        "within_5pct": float((moved <= 0.05).mean()),
        "within_10pct": float((moved <= 0.10).mean()),
    }


def render(table: pd.DataFrame, stats: dict[str, Any], statistic: str = "median_s") -> str:
    """Markdown: the summary line, then per case the median |change| across cells, then every row."""
    lines = [
        f"{stats['rows']} medians in both runs: |change| median {stats['median_abs_change']:.1%}, "
        f"90th percentile {stats['p90_abs_change']:.1%}, max {stats['max_abs_change']:.1%}; "
        f"{stats['within_5pct']:.0%} within 5%, {stats['within_10pct']:.0%} within 10%.",
        "",
    ]
    per_case = table["change"].abs().groupby(level="case").agg(["median", "max"])
    per_case.columns = ["median |change|", "max |change|"]
    lines += [str(per_case.map(lambda v: f"{v:.1%}").to_markdown()), ""]
    shown = table.reset_index()[["cell", "case", "median_s_a", "median_s_b", "change"]]
    for col in ("median_s_a", "median_s_b"):
        if statistic == "ratio":
            shown[col] = shown[col].map(lambda v: f"{v:.3g} × ref")
        else:
            shown[col] = (shown[col] * 1e3).map(lambda v: f"{v:.3g} ms")
    shown["change"] = shown["change"].map(lambda v: f"{v:+.1%}")
    lines += [str(shown.to_markdown(index=False))]
    return "\n".join(lines) + "\n"
