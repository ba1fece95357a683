"""The latency part of the report: per-device tables (median, 95% CI, ratios) and plots against release."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pandas as pd

from harness import stats
from harness.decl import caseids
from harness.decl.cells import Cell, Matrix
from harness.decl.scenarios import Scenario
from harness.readers.model import View, cell_order, is_current, version_label
from harness.readers.pages import Pages
from harness.store import fresh

GRID = False  # timings, not entries
LISTED = True  # its cases are listed in the summary
APART = False


MASKED = "lstm:masked:predict_on_batch"

RATIOS = {
    "LSTM masked / unmasked": ("lstm:masked:predict_on_batch", "lstm:unmasked:predict_on_batch"),
    "GRU masked / unmasked": ("gru:masked:predict_on_batch", "gru:unmasked:predict_on_batch"),
    "LSTM Keras / floor": ("lstm:masked:predict_on_batch", "lstm:floor:direct"),
    "LSTM reloaded / masked": ("lstm:reloaded:predict_on_batch", "lstm:masked:predict_on_batch"),
    "LSTM call / predict_on_batch": ("lstm:masked:call", "lstm:masked:predict_on_batch"),
}

PLOTTED = {
    "lstm:masked:predict_on_batch": "masked",
    "lstm:unmasked:predict_on_batch": "unmasked",
    "lstm:reloaded:predict_on_batch": "reloaded (list)",
    "lstm:floor:direct": "framework floor",
}


def frame(rows: list[dict[str, Any]], scen: Scenario, matrix: Matrix, is_current: Any) -> pd.DataFrame:
    """One record per current latency row: cell, device, case, outcome and the statistics.

    `median_ms` and its CI are the reference-corrected values where the row has them (raw otherwise);
    `raw_median_ms` is always the plain median of the samples.
    """
    cells = {c.id: c for c in matrix.cells}
    records = []
    current = [
        r
        for r in rows
        if r["scenario"] == scen.id and r["cell_id"] in cells and is_current(r, cells[r["cell_id"]], scen)
    ]
    speeds = stats.reference_speeds(current)
    for row in current:
        cell = cells[row["cell_id"]]
        lat = row.get("latency") or {}
        ci = lat.get("ci95_s") or [None, None]
        raw = lat["median_s"] * 1e3 if lat else None
        median = raw
        corrected = stats.corrected_s(row, speeds)
        if corrected is not None:
            speed = corrected / lat["vs_ref"]["median"]
            median = corrected * 1e3
            ci = [v * speed if v is not None else None for v in lat["vs_ref"]["ci95"]]
        records.append(
            {
                "cell": cell.id,
                "run": row.get("run_id") or f"{row['machine']['id']}@{row['started_at'][:10]}",
                "device": row["device"],
                "case": row["case_id"],
                "outcome": row["outcome"],
                "stage": row["failed_stage"],
                "complete": row.get("complete", True),
                "corrected": corrected is not None,
                "median_ms": median,
                "raw_median_ms": raw,
                "ci_low_ms": ci[0] * 1e3 if ci[0] is not None else None,
                "ci_high_ms": ci[1] * 1e3 if ci[1] is not None else None,
                "iqr_ms": lat["iqr_s"] * 1e3 if lat else None,
                "n": lat.get("n", 0),
                "processes": lat.get("processes", 0),
                "warnings": lat.get("warnings", []),
            }
        )
    return pd.DataFrame(records)


UNSTABLE = 0.2  # a figure whose 95% CI is wider than this share of its median is marked ⚠


def unstable(rec: Any) -> bool:
    """Unstable by its own statistic: no CI, or a 95% CI wider than UNSTABLE x the median."""
    low, high, median = rec["ci_low_ms"], rec["ci_high_ms"], rec["median_ms"]
    if any(v is None or pd.isna(v) for v in (low, high, median)) or not median:
        return True
    return bool((high - low) / median > UNSTABLE)


def _fmt(rec: Any) -> str:
    if rec["outcome"] != "ok" and pd.isna(rec["median_ms"]):
        return f"✗ {rec['stage']}" if rec["stage"] else str(rec["outcome"])
    low, high = rec["ci_low_ms"], rec["ci_high_ms"]
    ci = f" [{low:.3g}–{high:.3g}]" if pd.notna(low) and pd.notna(high) else ""
    flag = "" if rec["outcome"] == "ok" else f" ({rec['outcome']})"
    warn = " ⚠" if unstable(rec) else ""
    return f"{rec['median_ms']:.3g}{ci}{warn}{flag}"


def tables(df: pd.DataFrame, order: list[str], scen: Scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(medians with CI per cell x case, ratios of medians per cell) for one device."""
    cases = [c.case_id for c in scen.cases()]
    by = df.set_index(["cell", "case"])
    cells = [c for c in order if c in set(df["cell"])]
    medians = pd.DataFrame(
        [[_fmt(by.loc[(cell, case)]) if (cell, case) in by.index else "not run" for case in cases] for cell in cells],
        index=cells,
        columns=cases,
    )
    ratio_rows = []
    for cell in cells:
        rec: dict[str, Any] = {}
        for name, (num, den) in RATIOS.items():
            a = by["median_ms"].get((cell, num))
            b = by["median_ms"].get((cell, den))
            rec[name] = f"{a / b:.2f}" if a is not None and b is not None and pd.notna(a) and pd.notna(b) else "—"
        ratio_rows.append(rec)
    return medians, pd.DataFrame(ratio_rows, index=cells)


OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def slug(device: str) -> str:
    """A device as file names and anchors spell it: `gpu-NVIDIA_H200`."""
    return device.replace(":", "-").replace(" ", "_")


def _panels(cells: list[Cell], sharey: bool) -> tuple[Any, list[tuple[Any, list[Cell]]]]:
    """A 900 px figure with one axis per backend, each as wide as its cells: (figure, [(axis, its cells)])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = [b for b in ("tensorflow", "jax", "torch") if any(c.backend == b for c in cells)]
    widths = [max(2, sum(1 for c in cells if c.backend == b)) for b in backends]
    fig, axes = plt.subplots(
        1, len(backends), figsize=(9, 4.8), squeeze=False, width_ratios=widths, sharey=sharey, dpi=100
    )
    return fig, [(ax, [c for c in cells if c.backend == b]) for ax, b in zip(axes[0], backends, strict=True)]


def _finish(fig: Any, panels: list[tuple[Any, list[Cell]]], ylabel: str, legend_on: int, where: str, title: str,
            path: Path) -> None:  # fmt: skip
    """The line at 1, the cells' ticks, the backend as each axis' title, the labels; written to `path`."""
    import matplotlib.pyplot as plt

    for ax, group in panels:
        ax.axhline(1.0, color="#777777", lw=0.8, ls="--")
        short = [c.id.replace("-keras", " k").replace("tfkeras", "tf-k") for c in group]
        ax.set_xticks(list(range(len(group))), short, rotation=75, ha="right", fontsize=6)
        ax.set_title(group[0].backend, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    panels[0][0].set_ylabel(ylabel, fontsize=8)
    panels[legend_on][0].legend(fontsize=7, loc=where)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def plot(df: pd.DataFrame, cells: list[Cell], path: Path, title: str) -> None:
    """Latency change against release, one panel per backend: each cell's median over the backend's first cell's
    (a ratio, linear axis) with its 95% CI, 900 px wide, in a colour-blind-safe palette."""
    fig, panels = _panels(cells, sharey=True)
    for ax, group in panels:
        xs = range(len(group))
        for (case, label), colour in zip(PLOTTED.items(), OKABE_ITO, strict=False):
            sub = df[df["case"] == case].set_index("cell")
            ys = [sub["median_ms"].get(c.id) for c in group]
            base = next((y for y in ys if y is not None and pd.notna(y)), None)
            if base is None:
                continue
            lo = [sub["ci_low_ms"].get(c.id) for c in group]
            hi = [sub["ci_high_ms"].get(c.id) for c in group]
            pts = [(x, y, lw, hg) for x, y, lw, hg in zip(xs, ys, lo, hi, strict=True) if y is not None and pd.notna(y)]
            err = [
                [(y - lw) / base if pd.notna(lw) else 0 for _, y, lw, _ in pts],
                [(hg - y) / base if pd.notna(hg) else 0 for _, y, _, hg in pts],
            ]
            ax.errorbar(
                [p[0] for p in pts], [p[1] / base for p in pts], yerr=err, marker="o", ms=3, capsize=2,
                label=label, color=colour,
            )  # fmt: skip
    _finish(fig, panels, "time / the backend's first cell (median, 95% CI)", -1, "best", title, path)


RATIO_SERIES = {
    "LSTM": ("lstm:masked:predict_on_batch", "lstm:unmasked:predict_on_batch"),
    "GRU": ("gru:masked:predict_on_batch", "gru:unmasked:predict_on_batch"),
}


def ratio_bounds(df: pd.DataFrame, cell: str, num: str, den: str) -> tuple[float, float, float] | None:
    """(masked / unmasked median, low, high) of a cell; the bounds divide the two medians' 95% CIs crosswise,
    a conservative interval for the ratio (None where a figure or a bound is missing)."""
    by = df.set_index(["cell", "case"])
    if (cell, num) not in by.index or (cell, den) not in by.index:
        return None
    a: Any = by.loc[(cell, num)]
    b: Any = by.loc[(cell, den)]
    vals = [a["median_ms"], b["median_ms"], a["ci_low_ms"], a["ci_high_ms"], b["ci_low_ms"], b["ci_high_ms"]]
    if any(v is None or pd.isna(v) or v <= 0 for v in vals):
        return None
    return float(a["median_ms"] / b["median_ms"]), float(a["ci_low_ms"] / b["ci_high_ms"]), float(
        a["ci_high_ms"] / b["ci_low_ms"])  # fmt: skip


def ratio_plot(df: pd.DataFrame, cells: list[Cell], path: Path, title: str) -> None:
    """Masked / unmasked time per cell with its interval, LSTM and GRU, one axis per backend (900 px wide)."""
    fig, panels = _panels(cells, sharey=False)
    for ax, group in panels:
        for (name, (num, den)), colour in zip(RATIO_SERIES.items(), OKABE_ITO, strict=False):
            pts = [(x, r) for x, c in enumerate(group) if (r := ratio_bounds(df, c.id, num, den)) is not None]
            if not pts:
                continue
            ax.errorbar([x for x, _ in pts], [r[0] for _, r in pts],
                        yerr=[[r[0] - r[1] for _, r in pts], [r[2] - r[0] for _, r in pts]],
                        marker="o", ms=3, capsize=2, label=f"{name} masked / unmasked", color=colour)  # fmt: skip
    _finish(fig, panels, "masked / unmasked time (median; interval from both 95% CIs)", 0, "lower right", title, path)


STEPPED = ("lstm:masked:predict_on_batch", "lstm:unmasked:predict_on_batch", "gru:masked:predict_on_batch",
           "gru:unmasked:predict_on_batch")  # fmt: skip


def release_steps(df: pd.DataFrame, cells: list[Cell]) -> pd.DataFrame:
    """Adjacent cells of one backend and Keras family (in release order) whose 95% CIs of a case's median do not
    overlap: the release steps that changed its time, masked and unmasked apart."""
    by = df.set_index(["cell", "case"])
    out = []
    for case in STEPPED:
        for _, group in itertools.groupby(cells, key=lambda c: (c.backend, c.flavor)):
            timed = [c for c in group if (c.id, case) in by.index and not unstable(by.loc[(c.id, case)])]
            for a, b in itertools.pairwise(timed):
                ra: Any = by.loc[(a.id, case)]
                rb: Any = by.loc[(b.id, case)]
                if ra["ci_high_ms"] < rb["ci_low_ms"] or rb["ci_high_ms"] < ra["ci_low_ms"]:
                    out.append({"backend": a.backend, "case": case, "from": version_label(a), "to": version_label(b),
                                "from_ms": _fmt(ra), "to_ms": _fmt(rb),
                                "change": float(rb["median_ms"] / ra["median_ms"] - 1)})  # fmt: skip
    return pd.DataFrame(out, columns=["backend", "case", "from", "to", "from_ms", "to_ms", "change"])


def steps_by_device(view: View, scen: Scenario) -> dict[str, pd.DataFrame]:
    """Per device, the machine's release steps (`release_steps`)."""
    df = frame(view.plain, scen, view.shown, is_current)
    if df.empty:
        return {}
    cells = [c for c in sorted(view.shown.cells, key=cell_order) if scen.applies_to(c.id, c.tags)]
    return {str(d): release_steps(df[df["device"] == d], cells) for d in sorted(set(df["device"]))}


def _few(cells: list[str]) -> str:
    """`N cells (a, b, c …)`."""
    return f"{len(cells)} cells ({', '.join(cells[:3])}{' …' if len(cells) > 3 else ''})"


def section(
    rows: list[dict[str, Any]],
    scen: Scenario,
    matrix: Matrix,
    order: list[Cell],
    is_current: Any,
    plots: Path,
    root: Path,
    machine_id: str,
) -> list[str]:
    """The latency section of one machine: one block per device, never mixing CPU and GPU rows."""
    out = [f"### {scen.title} (`{scen.id}`)", ""]
    df = frame(rows, scen, matrix, is_current)
    timed = [c for c in order if scen.applies_to(c.id, c.tags)]
    if df.empty:
        return [*out, "No current latency rows: run `nox -s bench` (or `nox -s matrix`).", ""]
    bench = scen.bench or {}
    corrected = bool(df["corrected"].any())
    what = (
        "median of sample / reference, where every sample is divided by a fixed pure-Python workload "
        "timed in the same process just before and after it (`harness/child/refloop.py`), converted back to "
        "milliseconds at that interpreter's fast-state reference speed on this machine (10th percentile of "
        "the processes' reference medians); [95% CI]; plain medians in the second table"
        if corrected
        else "median of all samples, [95% CI of the median]"
    )
    out.append(
        f"Milliseconds per batch of {scen.model['batch']} ({what}). "
        f"Each cell ran {int(bench['rounds'])} timing processes (fewer where listed as unfinished), one per round, "
        "rounds interleaved across cells; "
        f"up to {int(bench['samples'])} samples per process after warm-up and loop calibration, "
        f"{int(bench['threads']) or 'default'} thread(s) per backend"
        + (", pinned to one CPU" if int(bench["cpu"]) != -2 else "")
        + f". ⚠: the figure's own 95% CI is wider than {UNSTABLE:.0%} of its median (or it has none). Ratios "
        "divide medians measured in the same processes."
    )
    steals = [v for r in rows if r["scenario"] == scen.id for v in r.get("steal_fraction") or [] if v is not None]
    if steals:
        out += [
            "",
            f"CPU steal (`/proc/stat`) during the timing processes: at most {max(steals):.1%} of the machine's CPU "
            "time" + (", so slow phases are not time the hypervisor reports as taken." if max(steals) < 0.02 else "."),
        ]
    runs = df.groupby("run")["cell"].agg(lambda cells: sorted(set(cells)))
    if len(runs) > 1:
        out += [
            "",
            f"**These rows come from {len(runs)} separate bench runs**; figures of different runs are not comparable "
            "(the machine's speed moves between runs, see the README's spread section). `nox -s bench -- --fresh` "
            "times every cell in one run. " + "; ".join(f"`{run}`: {_few(cells)}" for run, cells in runs.items()) + ".",
        ]
    missing = [c.id for c in timed if c.id not in set(df["cell"])]
    if missing:
        out += ["", f"Not timed (no current row): {', '.join(f'`{m}`' for m in missing)}."]
    partial = sorted(set(df.loc[~df["complete"].astype(bool), "cell"]))
    if partial:
        out += ["", f"Unfinished (fewer rounds than declared): {', '.join(f'`{p}`' for p in partial)}."]
    for device in sorted(set(df["device"]), key=lambda d: (d != "cpu", d)):
        sub = df[df["device"] == device]
        ids = [c.id for c in timed]
        medians, ratios = tables(sub, ids, scen)
        out += ["", f"#### Device: {device}", ""]
        ratios.insert(0, "cell", list(ratios.index))
        out += ["Ratios of medians:", "", str(ratios.to_markdown(index=False)), ""]
        medians.insert(0, "cell", list(medians.index))
        label = "reference-corrected medians" if corrected else "medians"
        out += [f"<details><summary>{label} and 95% CI per case (ms)</summary>", ""]
        out += [str(medians.to_markdown(index=False)), "", "</details>", ""]
        if corrected:
            raw = sub.assign(median_ms=sub["raw_median_ms"], ci_low_ms=None, ci_high_ms=None)
            plain, _ = tables(raw, ids, scen)
            plain.insert(0, "cell", list(plain.index))
            out += ["<details><summary>plain medians of the samples per case (ms)</summary>", ""]
            out += [str(plain.to_markdown(index=False)), "", "</details>", ""]
        name = f"{scen.id}-{machine_id}-{slug(device)}.png"
        cells_here = [c for c in timed if c.id in set(sub["cell"])]
        plot(sub, cells_here, plots / name, f"{scen.id} — {machine_id} — {device}")
        out += [f"![latency against release, {device}]({Path(os.path.relpath(plots / name, root)).as_posix()})", ""]
        ratio_name = f"{scen.id}-ratio-{machine_id}-{slug(device)}.png"
        ratio_plot(sub, cells_here, plots / ratio_name, f"masked / unmasked — {machine_id} — {device}")
        out += [f"![masked over unmasked time per cell, {device}]"
                f"({Path(os.path.relpath(plots / ratio_name, root)).as_posix()})", ""]  # fmt: skip
        steps = release_steps(sub, cells_here)
        out += [f'<a id="steps-{slug(device)}"></a>Release steps on {device}: '
                "adjacent cells of one backend and family whose 95% CIs do not overlap (figures without ⚠ only), "
                "masked and unmasked apart:", ""]  # fmt: skip
        shown = steps.assign(change=[f"{v:+.0%}" for v in steps["change"]])
        out += [str(shown.to_markdown(index=False)) if not steps.empty else "None.", ""]
        warned = sub[sub["warnings"].map(bool)]
        if not warned.empty:
            out += [f"<details><summary>notes from the timing processes ({len(warned)} rows)</summary>", ""]
            out += [f"- `{r.cell}` `{r.case}`: {'; '.join(r.warnings)}" for r in warned.itertuples()]
            out += ["", "</details>", ""]
    return out


def latency_page(rows: list[dict[str, Any]], scen: Scenario, matrix: Matrix, pages: Pages, plots: Path) -> str:
    """The latency of one machine: tables, plots, and how to rerun a cell's timing."""
    ordered = sorted(matrix.cells, key=cell_order)
    body = section(rows, scen, matrix, ordered, is_current, plots, pages.dir, pages.machine_id)
    out = [f"# {scen.title} (`{scen.id}`) on `{pages.machine_id}`", "", "[← report](../report.md)", "", *body[2:]]
    out += [
        "",
        "Reproduce any entry: `nox -s bench -- --cell CELL --case CASE --fresh` times it again beside nothing else "
        "(`nox -s bench -- --fresh` times every cell, rounds interleaved, which is what makes them comparable).",
    ]
    return "\n".join(out) + "\n"


def page(view: View, scen: Scenario, pages: Pages, plots: Path, sigs: dict[str, int]) -> str | None:
    """The machine's latency page (None where the machine timed nothing)."""
    if scen.id not in view.ran:
        return None
    return latency_page(view.plain, scen, view.shown, pages, plots)


def latency_entries(mid: str, rows: list[dict[str, Any]], scen: Scenario, matrix: Matrix) -> list[dict[str, Any]]:
    """Each current latency row's corrected milliseconds, CI, masked/unmasked ratio and stability."""
    df = frame(rows, scen, matrix, fresh.current)
    if df.empty:
        return []
    by = df.set_index(["device", "cell", "case"])["median_ms"]
    started = {(r["device"], r["cell_id"], r["case_id"]): r["started_at"] for r in rows if r["scenario"] == scen.id}
    out = []
    for rec in df.to_dict("records"):
        ratio = None
        if rec["case"].endswith(":masked:predict_on_batch"):
            other = (rec["device"], rec["cell"], rec["case"].replace(":masked:", ":unmasked:"))
            den = by.get(other)
            if den is not None and pd.notna(den) and pd.notna(rec["median_ms"]):
                ratio = float(rec["median_ms"] / den)
        ci = [rec["ci_low_ms"], rec["ci_high_ms"]]
        out.append(
            {
                "machine": mid,
                "device": str(rec["device"]),
                "cell_id": str(rec["cell"]),
                "case": caseids.key(scen.id, str(rec["case"])),
                "ms": _num(rec["median_ms"]),
                "ci_ms": [float(v) for v in ci] if all(_num(v) is not None for v in ci) else None,
                "masked_over_unmasked": ratio,
                "unstable": unstable(rec),
                "measured_at": started.get((rec["device"], rec["cell"], rec["case"])),
            }
        )
    return out


def _num(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def summarize(out: dict[str, Any], view: View, scen: Scenario, sources: dict[str, int]) -> None:
    """The machine's latency entries in the summary."""
    out["latency"] += latency_entries(view.machine_id, view.plain, scen, view.shown)
