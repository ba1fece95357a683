"""The latency sweep (`scenarios/latency-sweep.toml`): how masked-RNN inference cost grows with timesteps, batch and
units (a line fitted per batch and units), and what masking and padding cost as the padding grows (masked over
unmasked, masked over the real work), per cell and device; answers first, then tables and log-log plots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from harness.decl import caseids
from harness.decl.cells import Cell, Matrix
from harness.decl.scenarios import Scenario
from harness.readers.model import View, cell_order, is_current
from harness.readers.pages import Pages
from harness.readers.sections import latency

GRID = False  # timings, not entries
LISTED = False  # its points are the summary's `sweep`, not cases
APART = False

MODELS = ("masked", "unmasked", "real-work")
PAD_POINT = {"timesteps": 512, "batch": 32, "units": 64}  # where the padding slice is declared
HALF = 0.5  # the padding the answers quote
FLAT = 0.5  # masked cost at 90% padding still over this share of its cost at none: the padded steps are computed


def frame(rows: list[dict[str, Any]], scen: Scenario, matrix: Matrix) -> pd.DataFrame:
    """One record per current sweep row: the latency section's statistics with the point's parameters, and the
    samples per process of this run and of the previous one where the row kept it (the paired ratios)."""
    df = latency.frame(rows, scen, matrix, is_current)
    if df.empty:
        return df
    params = {c.case_id: c.params for c in scen.cases()}
    for key in ("rnn", "model"):
        df[key] = [params.get(c, {}).get(key) for c in df["case"]]
    for key in ("timesteps", "batch", "units"):
        df[key] = [int(float(params[c][key])) if c in params else None for c in df["case"]]
    df["pad"] = [float(params[c]["pad"]) if c in params else None for c in df["case"]]
    ref = {(r["cell_id"], r["device"], r["case_id"]): r for r in rows if r["scenario"] == scen.id}
    keys = list(zip(df["cell"], df["device"], df["case"], strict=True))
    df["samples"] = [(ref.get(k, {}).get("latency") or {}).get("samples_s") for k in keys]
    df["prev_samples"] = [(ref.get(k, {}).get("previous") or {}).get("samples_s") for k in keys]
    return df[df["rnn"].notna()]


def fits(df: pd.DataFrame) -> pd.DataFrame:
    """time ≈ a + b·timesteps per cell, device, RNN, model, batch and units (least squares over the declared
    timesteps at the sweep's half padding), with b's 95% CI (t distribution) and R²."""
    from scipy import stats

    records = []
    sub = df[(df["pad"] == HALF) & df["median_ms"].notna()]
    for (device, cell, rnn, model, batch, units), grp in sub.groupby(
        ["device", "cell", "rnn", "model", "batch", "units"], sort=False
    ):
        grp = grp.sort_values("timesteps")
        if grp["timesteps"].nunique() < 3:
            continue
        fit = stats.linregress(grp["timesteps"].astype(float), grp["median_ms"].astype(float))
        t = float(stats.t.ppf(0.975, len(grp) - 2))
        records.append({
            "device": device, "cell": cell, "rnn": rnn, "model": model, "batch": batch, "units": units,
            "a_ms": float(fit.intercept), "b_us": float(fit.slope) * 1e3,
            "b_low_us": float(fit.slope - t * fit.stderr) * 1e3, "b_high_us": float(fit.slope + t * fit.stderr) * 1e3,
            "r2": float(fit.rvalue**2), "points": len(grp),
        })  # fmt: skip
    return pd.DataFrame(records)


def paired(num: Any, den: Any) -> tuple[float, float, float] | None:
    """(median, low, high) of the per-sample ratios num / den: the i-th samples of two points of one process were
    taken in the same sweep over the points (round-robin), so each ratio sees one moment of the machine; the 95%
    CI of their median is distribution-free (order statistics, `scipy.stats.quantile_test`). None with fewer than
    three pairs."""
    import numpy as np
    from scipy import stats

    if not isinstance(num, list) or not isinstance(den, list):
        return None
    ratios = [a / b for p, q in zip(num, den, strict=False) for a, b in zip(p, q, strict=False) if b > 0]
    if len(ratios) < 3:
        return None
    values = np.asarray(ratios, dtype="float64")
    median = float(np.median(values))
    ci = stats.quantile_test(values, q=median, p=0.5).confidence_interval(0.95)
    low = float(ci.low) if np.isfinite(ci.low) else float(values.min())
    high = float(ci.high) if np.isfinite(ci.high) else float(values.max())
    return median, low, high


RATIOS = {"overhead": ("masked", "unmasked"), "waste": ("masked", "real-work")}  # name -> (numerator, denominator)


def ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Masking overhead (masked / unmasked) and padding waste (masked / real work) at every point, as paired
    per-sample ratios with their 95% CIs; where the rows kept the previous run, its ratio and whether the two runs'
    intervals overlap."""
    records = []
    for (device, cell, rnn, steps, batch, units, pad), grp in df.groupby(
        ["device", "cell", "rnn", "timesteps", "batch", "units", "pad"], sort=False
    ):
        by = grp.set_index("model")
        rec: dict[str, Any] = {"device": device, "cell": cell, "rnn": rnn, "timesteps": steps, "batch": batch,
                               "units": units, "pad": pad}  # fmt: skip
        for name, (num, den) in RATIOS.items():
            if num not in by.index or den not in by.index:
                continue
            now = paired(by.loc[num, "samples"], by.loc[den, "samples"])
            if now is not None:
                rec[name], rec[f"{name}_low"], rec[f"{name}_high"] = now
            before = paired(by.loc[num, "prev_samples"], by.loc[den, "prev_samples"])
            if now is not None and before is not None:
                rec[f"{name}_prev"] = before[0]
                rec[f"{name}_agrees"] = bool(now[1] <= before[2] and before[1] <= now[2])  # the intervals overlap
        records.append(rec)
    return pd.DataFrame(records)


def _where(cell: Cell, device: str) -> str:
    backend = "TF" if cell.backend == "tensorflow" else cell.backend
    family = "Keras 2" if cell.flavor != "keras3" else f"Keras {cell.keras}"
    return f"{family} on {backend} {device.split(':')[0].upper()}"


def padding_rows(rt: pd.DataFrame) -> pd.DataFrame:
    """The padding slice: the declared point's ratios by padding fraction."""
    if rt.empty:
        return rt
    keep = (rt["timesteps"] == PAD_POINT["timesteps"]) & (rt["batch"] == PAD_POINT["batch"]) & (
        rt["units"] == PAD_POINT["units"])  # fmt: skip
    return rt[keep].sort_values(["device", "cell", "rnn", "pad"])


def shrinks(df: pd.DataFrame) -> pd.DataFrame:
    """Per cell and RNN: masked and real-work time at the most padding over their time at none. Where the masked
    cost stays over FLAT while the real work falls, the backend computes the padded steps anyway."""
    sub = df[(df["timesteps"] == PAD_POINT["timesteps"]) & (df["batch"] == PAD_POINT["batch"])
             & (df["units"] == PAD_POINT["units"]) & df["median_ms"].notna()]  # fmt: skip
    records = []
    for (device, cell, rnn), grp in sub.groupby(["device", "cell", "rnn"], sort=False):
        pads = sorted(set(grp["pad"]))
        if len(pads) < 2:
            continue
        lo, hi = pads[0], pads[-1]
        by = grp.set_index(["model", "pad"])["median_ms"]
        if ("masked", lo) not in by.index or ("masked", hi) not in by.index or ("real-work", hi) not in by.index:
            continue
        masked, real = by[("masked", hi)] / by[("masked", lo)], by[("real-work", hi)] / by[("real-work", lo)]
        computed = bool(masked > FLAT and real < FLAT)
        records.append({"device": device, "cell": cell, "rnn": rnn, "from": lo, "to": hi, "masked": float(masked),
                        "real-work": float(real), "computes padded steps": computed})  # fmt: skip
    return pd.DataFrame(records)


def answers(df: pd.DataFrame, matrix: Matrix) -> list[str]:
    """The sentences report.md's first screen needs: per cell and RNN at half padding, masked over the real work and
    what sorting by length would save; where masked cost does not shrink with the real steps."""
    if df.empty:
        return []
    cells = {c.id: c for c in matrix.cells}
    rt = padding_rows(ratios(df))
    flat = shrinks(df)
    out = []
    for (device, cell_id), grp in rt[rt["pad"] == HALF].groupby(["device", "cell"], sort=False):
        parts = []
        for rec in grp.sort_values("rnn", key=lambda s: s.map({"lstm": 0, "gru": 1})).to_dict("records"):
            if pd.isna(rec.get("waste")):
                continue
            if rec["waste_low"] > 1:
                save = f"sorting by length would save {1 - 1 / rec['waste']:.0%}"
            elif rec["waste_high"] < 1:
                save = "the unmasked path is the slower one here, so sorting by length saves nothing"
            else:
                save = "sorting by length saves nothing measurable"
            parts.append(f"masked {rec['rnn'].upper()} costs {rec['waste']:.2f}× the real work "
                         f"[{rec['waste_low']:.2f}–{rec['waste_high']:.2f}] ({save}) and {rec['overhead']:.2f}× the "
                         "unmasked model")  # fmt: skip
        if parts:
            out.append(f"At 50% padding ({PAD_POINT['timesteps']} steps, batch {PAD_POINT['batch']}, "
                       f"{PAD_POINT['units']} units), on {_where(cells[str(cell_id)], str(device))}: "
                       + "; ".join(parts) + ".")  # fmt: skip
    computed = flat[flat["computes padded steps"]] if not flat.empty else flat
    if not computed.empty:  # one sentence for every cell and RNN that computes the padded steps
        rnns = " and ".join(r.upper() for r in ("lstm", "gru") if r in set(computed["rnn"]))
        places = []
        for (device, cell_id), grp in computed.groupby(["device", "cell"], sort=False):
            all_here = set(flat.loc[(flat["device"] == device) & (flat["cell"] == cell_id), "rnn"])
            only = "" if set(grp["rnn"]) == all_here else f" ({' and '.join(r.upper() for r in grp['rnn'])} only)"
            places.append(_where(cells[str(cell_id)], str(device)) + only)
        places.sort()
        every = len(computed) == len(flat)
        out.append(
            f"{'Everywhere measured' if every else 'On ' + ', '.join(places)} masked {rnns} do not get cheaper with "
            f"fewer real steps: at {computed['to'].max():.0%} padding they take {computed['masked'].min():.0%}–"
            f"{computed['masked'].max():.0%} of their time at {computed['from'].min():.0%} (the real work: "
            f"{computed['real-work'].min():.0%}–{computed['real-work'].max():.0%}); they compute the padded steps "
            "anyway" + (f" ({', '.join(places)})." if every else ".")
        )
    return out


def headline(df: pd.DataFrame, matrix: Matrix) -> str:
    """One sentence for the report's first screen: masked LSTM over the real work at half padding per place, and
    what sorting by length saves there."""
    if df.empty:
        return ""
    cells = {c.id: c for c in matrix.cells}
    rt = padding_rows(ratios(df))
    rt = rt[(rt["pad"] == HALF) & (rt["rnn"] == "lstm")] if not rt.empty else rt
    if rt.empty or "waste" not in rt:
        return ""
    rt = rt[rt["waste"].notna()]
    parts = [
        f"{r['waste']:.1f}×{' the time of the real work (the same model on only the real steps)' if not k else ''}"
        + ("" if r["waste_low"] > 1 else f" [95% CI {r['waste_low']:.2f}–{r['waste_high']:.2f}]")
        + f" on {_where(cells[str(r['cell'])], str(r['device']))}"
        for k, r in enumerate(rt.to_dict("records"))
    ]
    saves = [1 - 1 / w for w, low in zip(rt["waste"], rt["waste_low"], strict=True) if low > 1]  # measurably over 1
    listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    where = "" if len(saves) == len(rt) else " where it is measurably slower"
    tail = f": sorting by length would save {min(saves):.0%}–{max(saves):.0%}{where}" if saves else ""
    return f"At 50% padding a masked LSTM takes {listed}{tail}."


def loglog_plot(df: pd.DataFrame, cell: Cell, device: str, path: Path) -> None:
    """Time against timesteps, log-log, one panel per RNN and (batch, units), masked / unmasked / real work with
    their 95% CIs (900 px wide, Okabe-Ito colours)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub = df[(df["cell"] == cell.id) & (df["device"] == device) & (df["pad"] == HALF)]
    shapes = sorted(
        {(int(b), int(u)) for b, u in zip(sub["batch"], sub["units"], strict=True)}, key=lambda t: (t[1], t[0])
    )
    rnns = [r for r in ("lstm", "gru") if r in set(sub["rnn"])]
    if not shapes or not rnns:
        return
    fig, axes = plt.subplots(len(rnns), len(shapes), figsize=(9, 2.4 * len(rnns) + 0.6), squeeze=False, dpi=100)
    for i, rnn in enumerate(rnns):
        for j, (batch, units) in enumerate(shapes):
            ax = axes[i][j]
            for model, colour in zip(MODELS, latency.OKABE_ITO, strict=False):
                pts = sub[(sub["rnn"] == rnn) & (sub["model"] == model) & (sub["batch"] == batch)
                          & (sub["units"] == units) & sub["median_ms"].notna()].sort_values("timesteps")  # fmt: skip
                if pts.empty:
                    continue
                low = (pts["median_ms"] - pts["ci_low_ms"]).clip(lower=0).fillna(0)
                high = (pts["ci_high_ms"] - pts["median_ms"]).clip(lower=0).fillna(0)
                ax.errorbar(pts["timesteps"], pts["median_ms"], yerr=[low, high], marker="o", ms=2.5, capsize=2,
                            lw=1, color=colour, label=model)  # fmt: skip
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title(f"{rnn.upper()}, batch {batch}, {units} units", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.grid(True, which="both", alpha=0.2)
    axes[-1][0].set_xlabel("timesteps (half of them padding)", fontsize=7)
    axes[0][0].set_ylabel("ms per batch (median, 95% CI)", fontsize=7)
    axes[0][-1].legend(fontsize=6, loc="upper left")
    fig.suptitle(f"latency-sweep — {cell.id} — {device}", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def padding_plot(rt: pd.DataFrame, cells: list[Cell], device: str, path: Path) -> None:
    """Masked / unmasked and masked / real work against the padding fraction, per cell, with intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub = padding_rows(rt)
    sub = sub[sub["device"] == device]
    if sub.empty:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), dpi=100, sharey=True)
    colours = dict(zip([c.id for c in cells], latency.OKABE_ITO, strict=False))
    for ax, (name, (num, den)) in zip(axes, RATIOS.items(), strict=True):
        for (cell_id, rnn), grp in sub.groupby(["cell", "rnn"], sort=False):
            grp = grp[grp[name].notna()] if name in grp else grp.iloc[0:0]
            if grp.empty:
                continue
            ax.errorbar(grp["pad"], grp[name], yerr=[(grp[name] - grp[f"{name}_low"]).clip(lower=0),
                        (grp[f"{name}_high"] - grp[name]).clip(lower=0)], marker="o" if rnn == "lstm" else "s",
                        ms=3, capsize=2, lw=1, ls="-" if rnn == "lstm" else "--", color=colours.get(str(cell_id)),
                        label=f"{cell_id} {str(rnn).upper()}")  # fmt: skip
        ax.axhline(1.0, color="#777777", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_title(f"{num} / {den}", fontsize=8)
        ax.set_xlabel("padding fraction", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(True, which="both", alpha=0.2)
    axes[0].set_ylabel("time ratio (paired per-sample ratios: median, 95% CI)", fontsize=7)
    axes[1].legend(fontsize=5.5, loc="upper left")
    fig.suptitle(f"latency-sweep — what masking and padding cost — {device}", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def _ratio_text(rec: dict[str, Any], name: str) -> str:
    if pd.isna(rec.get(name)):
        return "—"
    text = f"{rec[name]:.2f} [{rec[f'{name}_low']:.2f}–{rec[f'{name}_high']:.2f}]"
    agrees = rec.get(f"{name}_agrees")
    if agrees is not None and not pd.isna(agrees):
        text += "" if agrees else f" ⚠ previous run {rec[f'{name}_prev']:.2f}"
    return text


def busy_minutes(rows: list[dict[str, Any]], scenario: str) -> dict[str, float]:
    """How long the stored run's timing processes took per device: every row keeps its cell's processes' time."""
    busy: dict[tuple[str, str], float] = {}
    for row in (r for r in rows if r.get("scenario") == scenario):
        key = (str(row.get("device")), str(row.get("cell_id")))
        busy[key] = max(busy.get(key, 0.0), float(row.get("duration_s") or 0.0))
    out: dict[str, float] = {}
    for (device, _), seconds in sorted(busy.items()):
        out[device] = out.get(device, 0.0) + seconds / 60
    return out


def sweep_page(rows: list[dict[str, Any]], scen: Scenario, matrix: Matrix, pages: Pages, plots: Path) -> str:
    """The machine's sweep: answers, the padding slice, the fitted lines, the plots, every point."""
    df = frame(rows, scen, matrix)
    out = [f"# {scen.title} (`{scen.id}`) on `{pages.machine_id}`", "", "[← report](../report.md)", ""]
    if df.empty:
        return "\n".join([*out, "No current sweep rows: run `nox -s matrix -- --part sweep`.", ""])
    cells = {c.id: c for c in matrix.cells}
    out += [f"- {line}" for line in answers(df, matrix)]
    rt = ratios(df)
    prev = [c for c in rt.columns if c.endswith("_agrees")]
    if prev:
        checked = rt[prev].notna().sum().sum()
        off = int((rt[prev] == False).sum().sum())  # noqa: E712
        moved = {n: float((rt[n] / rt[f"{n}_prev"] - 1).abs().median()) for n in RATIOS if f"{n}_prev" in rt}
        out.append(f"- Against the previous run of the same declaration (kept in each row): {checked - off} of "
                   f"{checked} ratios' 95% intervals overlap; the others are marked ⚠ below. The ratios moved by a "
                   "median of " + " and ".join(f"{v:.1%} ({n})" for n, v in moved.items()) + " between the runs "
                   "(the 5% target; per cell on the tables below).")  # fmt: skip
    else:
        out.append("- No row keeps a previous run yet: the next run of the sweep compares every ratio with this one.")
    out += ["", "Milliseconds per batch are reference-corrected medians with their 95% CIs (the latency section's "
            "statistic). A ratio is the median of per-sample ratios (the i-th samples of two points of one process "
            "were taken in the same round-robin sweep) with its 95% CI. `real-work`: the same weights, unmasked, on "
            "only the real steps (what sorting by length and bucketing approach)."]  # fmt: skip
    for device in sorted(set(df["device"])):
        here = sorted({cells[c] for c in df.loc[df["device"] == device, "cell"]}, key=cell_order)
        out += ["", f"## {device}", "", "### What masking and padding cost, by padding fraction", ""]
        pad = padding_rows(rt[rt["device"] == device])
        records = [{str(k): v for k, v in r.items()} for r in pad.to_dict("records")]
        table = pd.DataFrame([{"cell": r["cell"], "rnn": r["rnn"], "padding": f"{r['pad']:.0%}",
                               "masked / unmasked": _ratio_text(r, "overhead"),
                               "masked / real work": _ratio_text(r, "waste")} for r in records])  # fmt: skip
        if not table.empty:
            out.append(str(table.to_markdown(index=False)))
        name = f"{scen.id}-padding-{pages.machine_id}-{latency.slug(device)}.png"
        padding_plot(rt, here, device, plots / name)
        if (plots / name).exists():
            out += [
                "",
                f"![ratios against padding, {device}]({Path(os.path.relpath(plots / name, pages.dir)).as_posix()})",
            ]
        fl = shrinks(df[df["device"] == device])
        if not fl.empty:
            out += ["", "Does masked time shrink with the real steps? (time at the most padding over time at none)", ""]
            out.append(str(fl.drop(columns=["device"]).to_markdown(index=False, floatfmt=".2f")))
        out += ["", "### How time grows with the sequence: time ≈ a + b·timesteps (at 50% padding)", ""]
        ft = fits(df[df["device"] == device])
        if not ft.empty:
            slopes = zip(ft["b_us"], ft["b_low_us"], ft["b_high_us"], strict=True)
            ft = ft.assign(**{"b µs/step [95% CI]": [f"{b:.3g} [{lo:.3g}–{hi:.3g}]" for b, lo, hi in slopes]})
            shown = ft[["cell", "rnn", "batch", "units", "model", "a_ms", "b µs/step [95% CI]", "r2"]]
            out.append(str(shown.rename(columns={"a_ms": "a ms", "r2": "R²"}).to_markdown(index=False, floatfmt=".3g")))
        for cell in here:
            name = f"{scen.id}-{cell.id}-{pages.machine_id}-{latency.slug(device)}.png"
            loglog_plot(df, cell, device, plots / name)
            if (plots / name).exists():
                out += ["", f"![time against timesteps, {cell.id}, {device}]"
                            f"({Path(os.path.relpath(plots / name, pages.dir)).as_posix()})"]  # fmt: skip
    took = ", ".join(f"{m:.0f} minutes on {d}" for d, m in busy_minutes(rows, scen.id).items())
    out += ["", "Reproduce: `nox -s matrix -- --part sweep --fresh` times every point again (the stored run's timing "
            f"processes took {took}); `--cell CELL` narrows it to one cell."]  # fmt: skip
    return "\n".join(out) + "\n"


def page(view: View, scen: Scenario, pages: Pages, plots: Path, sigs: dict[str, int]) -> str | None:
    """The machine's sweep page (None where the machine timed no point)."""
    if scen.id not in view.ran:
        return None
    return sweep_page(view.plain, scen, view.shown, pages, plots)


def _num(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def summarize(out: dict[str, Any], view: View, scen: Scenario, sources: dict[str, int]) -> None:
    """Every current point in the summary's `sweep`: where, which model and shape, its milliseconds and 95% CI."""
    df = frame(view.plain, scen, view.shown)
    for rec in df.to_dict("records") if not df.empty else []:
        ci = [_num(rec["ci_low_ms"]), _num(rec["ci_high_ms"])]
        out.setdefault("sweep", []).append({
            "machine": view.machine_id, "device": str(rec["device"]), "cell_id": str(rec["cell"]),
            "case": caseids.key(scen.id, str(rec["case"])), "rnn": rec["rnn"], "model": rec["model"],
            "timesteps": int(rec["timesteps"]), "batch": int(rec["batch"]), "units": int(rec["units"]),
            "pad": float(rec["pad"]), "ms": _num(rec["median_ms"]),
            "ci_ms": ci if all(v is not None for v in ci) else None,
        })  # fmt: skip
