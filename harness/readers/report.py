"""report.md and the heat-map, computed from stored rows only (pandas, matplotlib; never TensorFlow)."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness.decl import caseids
from harness.decl.cells import Cell, Matrix
from harness.decl.scenarios import Scenario
from harness.readers import latency_report
from harness.store import fresh

FLAVOR_ORDER = {"keras2": 0, "tf_keras": 1, "keras3": 2}
BACKEND_ORDER = {"tensorflow": 0, "jax": 1, "torch": 2}
# Table entry -> heat-map colour; stage names follow the mark for failing entries.
MARKS = {"ok": "ok", "fail": "✗", "mismatch": "≠", "crash": "crash", "timeout": "timeout", "skip": "skip"}
COLOURS = {
    "ok": "#4caf50",
    "fail": "#e53935",
    "mismatch": "#fb8c00",
    "crash": "#8e24aa",
    "timeout": "#6d4c41",
    "skip": "#bdbdbd",
    "stale": "#fff59d",
    "not run": "#ffffff",
}


def _vkey(version: str | None) -> tuple[int, ...]:
    if not version:
        return (999,)
    out = []
    for part in version.split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def cell_order(cell: Cell) -> tuple[Any, ...]:
    """Version order: backend, then Keras flavor, then Keras version, then TensorFlow version."""
    return (
        BACKEND_ORDER.get(cell.backend, 9),
        FLAVOR_ORDER.get(cell.flavor, 9),
        _vkey(cell.tf_keras or cell.keras) if cell.flavor != "keras2" else _vkey(cell.tensorflow),
        _vkey(cell.tensorflow),
        _vkey(cell.python),
    )


def group_of(cell: Cell) -> str:
    """The family a finding speaks about."""
    if cell.flavor == "keras2":
        return "Keras 2 (tf.keras)"
    if cell.flavor == "tf_keras":
        return "Keras 2 via tf-keras"
    return f"Keras 3, {cell.backend} backend"


def version_label(cell: Cell) -> str:
    """How a finding names one cell within its family (Python too, for cells of the Python axis)."""
    if cell.flavor == "keras2":
        label = f"TF {cell.tensorflow}"
    elif cell.flavor == "tf_keras":
        label = f"TF {cell.tensorflow} + tf-keras {cell.tf_keras}"
    else:
        label = f"Keras {cell.keras}" + (f" + TF {cell.tensorflow}" if cell.tensorflow else "")
    return label + (f" on Python {cell.python}" if "python-axis" in cell.roles else "")


@dataclass
class Entry:
    """One table entry: what the data says about (cell, case)."""

    status: str  # an outcome, "stale" or "not run"
    stage: str | None
    row: dict[str, Any] | None

    @property
    def text(self) -> str:
        """The table's text for this entry."""
        if self.status in ("ok", "stale", "not run", "skip"):
            return self.status
        return f"{MARKS[self.status]} {self.stage}" if self.stage else MARKS[self.status]


def _current(row: dict[str, Any], cell: Cell, scen: Scenario) -> bool:
    return fresh.current(row, cell, scen)


def entries(rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]) -> dict[tuple[str, str], Entry]:
    """(cell id, scenario/case) -> Entry for every declared cell and case; gaps are `not run`."""
    by_key = {(r["cell_id"], caseids.key(r["scenario"], r["case_id"])): r for r in rows}
    scen_by_id = {s.id: s for s in scens}
    cell_by_id = {c.id: c for c in matrix.cells}
    out: dict[tuple[str, str], Entry] = {}
    for cell in matrix.cells:
        for scen in scens:
            if not scen.applies_to(cell.id, cell.tags):
                continue
            for case in scen.cases():
                key = (cell.id, caseids.key(scen.id, case.case_id))
                row = by_key.get(key)
                source = cell_by_id.get(case.params.get("saved_by", ""))
                if row is None:
                    out[key] = Entry("not run", None, None)
                elif not fresh.current(row, cell, scen_by_id[scen.id], source):
                    out[key] = Entry("stale", None, row)
                else:
                    out[key] = Entry(row["outcome"], row["failed_stage"], row)
    return out


def compat_table(grid: dict[tuple[str, str], Entry], matrix: Matrix, scens: list[Scenario]) -> pd.DataFrame:
    """Rows = cells the scenarios apply to, in version order; columns = cases; values = Entry."""
    cells = [c for c in sorted(matrix.cells, key=cell_order) if all(s.applies_to(c.id, c.tags) for s in scens)]
    columns = [caseids.key(s.id, c.case_id) for s in scens for c in s.cases()]
    data = [[grid[(cell.id, col)] for col in columns] for cell in cells]
    return pd.DataFrame(data, index=[c.id for c in cells], columns=columns)


def _ranges(labels: list[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    return f"{labels[0]} … {labels[-1]} ({len(labels)} cells)" if len(labels) > 2 else f"{labels[0]}, {labels[1]}"


Runs = list[tuple[str, list[str]]]


def family_runs(column: pd.Series, matrix: Matrix) -> dict[str, Runs]:
    """Per family, the column's entries as consecutive runs: [(entry text, [version labels]), ...]."""
    by_id = {c.id: c for c in matrix.cells}
    labelled: dict[str, list[tuple[str, str]]] = {}
    for cell_id, entry in column.items():
        cell = by_id[str(cell_id)]
        labelled.setdefault(group_of(cell), []).append((entry.text, version_label(cell)))
    return {
        group: [(text, [label for _, label in run]) for text, run in itertools.groupby(items, key=lambda i: i[0])]
        for group, items in labelled.items()
    }


def findings(table: pd.DataFrame, matrix: Matrix) -> list[str]:
    """Sentences like 'fails at load on A … B; ok on C … D', per case and family, from the table."""
    lines: list[str] = []
    always_ok = [col for col in table.columns if all(e.status == "ok" for e in table[col])]
    if always_ok:
        lines.append("Cases that pass on every cell: " + ", ".join(f"`{caseids.split(c)[1]}`" for c in always_ok) + ".")
    for col in table.columns:
        if col in always_ok:
            continue
        told, ok_groups = [], []
        for group, runs in family_runs(table[col], matrix).items():
            count = sum(len(labels) for _, labels in runs)
            if len(runs) == 1 and runs[0][0] == "ok":
                ok_groups.append(f"{group} ({count})")
            elif len(runs) == 1:
                told.append(f"{group}: {_verdict(runs[0][0])} on every cell ({count})")
            else:
                told.append(f"{group}: " + "; ".join(f"{_verdict(t)} on {_ranges(ls)}" for t, ls in runs))
        if ok_groups:
            told.append("**ok** on every cell of " + ", ".join(ok_groups))
        lines.append(f"`{caseids.split(col)[1]}` — " + ". ".join(told) + ".")
    return lines


def summary_table(table: pd.DataFrame, matrix: Matrix) -> pd.DataFrame:
    """Rows = cases, columns = families; each entry says on which releases the case holds and fails."""
    out: dict[str, dict[str, str]] = {}
    for col in table.columns:
        row: dict[str, str] = {}
        for group, runs in family_runs(table[col], matrix).items():
            if len(runs) == 1:
                row[group] = f"{runs[0][0]} (all {len(runs[0][1])})"
            else:
                row[group] = "; ".join(f"{t}: {_ranges(ls)}" for t, ls in runs)
        out[caseids.split(col)[1]] = row
    return pd.DataFrame.from_dict(out, orient="index").fillna("")


def _verdict(text: str) -> str:
    if text == "ok":
        return "**ok**"
    if text in ("stale", "not run"):
        return text
    mark, _, stage = text.partition(" ")
    word = {"✗": "fails", "≠": "gives different outputs", "crash": "crashes", "timeout": "times out"}.get(mark, mark)
    return f"**{word}** at `{stage}`" if stage else f"**{word}**"


def signatures(rows: list[dict[str, Any]], matrix: Matrix) -> pd.DataFrame:
    """Distinct error signatures with counts, the cells they occur on, and one example message."""
    order = {c.id: cell_order(c) for c in matrix.cells}
    failing = sorted(
        (r for r in rows if r["error_signature"] and r["cell_id"] in order and r["outcome"] != "skip"),
        key=lambda r: (order[r["cell_id"]], r["scenario"], r["case_id"]),
    )
    if not failing:
        return pd.DataFrame(columns=["signature", "rows", "cells", "example"])
    df = pd.DataFrame(failing)
    out = []
    for sig, grp in df.groupby("error_signature", sort=True):
        cells = sorted(set(grp["cell_id"]), key=lambda c: order[c])
        out.append(
            {
                "signature": sig,
                "rows": len(grp),
                "cells": cells,
                "example": str(grp.iloc[0]["error_message"]),
                "example_cell": grp.iloc[0]["cell_id"],
                "example_case": grp.iloc[0]["case_id"],
            }
        )
    return pd.DataFrame(out).sort_values(["rows", "signature"], ascending=[False, True]).reset_index(drop=True)


def repro_command(cell_id: str, case_id: str, gpu: bool = False) -> str:
    """The one command that reruns a single entry (on a GPU machine, with the CUDA builds)."""
    return f'nox -s matrix -- --cell {cell_id} --case "{case_id}" --fresh' + (" --device gpu" if gpu else "")


def heatmap(table: pd.DataFrame, path: Path, title: str) -> None:
    """A categorical heat-map of the table, written deterministically (no timestamps in the PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    names = list(COLOURS)
    codes = [[names.index(e.status) for e in row] for row in table.itertuples(index=False)]
    fig, ax = plt.subplots(figsize=(2.0 + 1.1 * len(table.columns), 1.5 + 0.32 * len(table)))
    ax.imshow(codes, cmap=ListedColormap(list(COLOURS.values())), vmin=0, vmax=len(names) - 1, aspect="auto")
    ax.set_xticks(range(len(table.columns)), [caseids.split(c)[1] for c in table.columns], rotation=40, ha="right")
    ax.set_yticks(range(len(table.index)), list(table.index))
    for i, row in enumerate(table.itertuples(index=False)):
        for j, e in enumerate(row):
            if e.status not in ("ok", "not run") and e.stage:
                ax.text(j, i, e.stage.replace("predict_after_load", "pred.after"), ha="center", va="center", fontsize=6)
    ax.legend(
        handles=[Patch(color=COLOURS[n], label=n) for n in names],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=7,
    )
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def _md(df: pd.DataFrame) -> str:
    return str(df.to_markdown(index=False))


LEGEND = (
    "`ok`: every stage passed; `✗ stage`: failed at that stage; `≠ stage`: ran but outputs differ (after load, "
    "or padded steps changed the output); `skip`: the route does not exist there; `crash` / `timeout`: the worker "
    "died or hung there; `stale`: the stored row was measured by other code, scenario or pins; `not run`: no row."
)


def scenario_section(
    scen: Scenario, grid: dict[tuple[str, str], Entry], matrix: Matrix, plot: Path, root: Path, machine_id: str
) -> list[str]:
    """Findings, summary, table and heat-map of one scenario on one machine."""
    table = compat_table(grid, matrix, [scen])
    out = [f"### {scen.title} (`{scen.id}`)", ""]
    if table.empty:
        return [*out, "No cell runs this scenario.", ""]
    heatmap(table, plot, f"{scen.id} — {machine_id}")
    if len(table.columns) <= 12:
        out += [f"- {line}" for line in findings(table, matrix)]
    else:
        summary = summary_table(table, matrix)
        summary.insert(0, "case", list(summary.index))
        out += ["Where each case holds, per family (ranges follow the table's version order):", "", _md(summary)]
    shown = table.map(lambda e: e.text)
    shown.columns = [caseids.split(c)[1] for c in shown.columns]
    shown.insert(0, "cell", list(table.index))
    out += ["", "<details><summary>full table</summary>", "", _md(shown), "", "</details>", ""]
    out += [f"![{scen.id} heat-map]({Path(os.path.relpath(plot, root)).as_posix()})", ""]
    return out


def crossload_section(scen: Scenario, grid: dict[tuple[str, str], Entry]) -> list[str]:
    """One N x N table per format and mask value: rows = the cell that saved, columns = the cell that loaded."""
    out = [f"### {scen.title} (`{scen.id}`)", ""]
    out.append(
        "Each cell of the set saves the model; every cell then loads every saved file with Keras' safe mode on "
        "and predicts; `ok` means the outputs equal the saving cell's own (within the tolerance). "
        "`not saved`: the saving cell could not produce that file (the stage where it failed)."
    )
    cells = list(scen.cells)
    combos = list(dict.fromkeys((c.params["format"], c.params["mask_value"]) for c in scen.cases()))
    for fmt, mask in combos:
        table = []
        for source in cells:
            line = {"saved by ↓, loaded by →": f"`{source}`"}
            for loader in cells:
                case = scen.find(mask_value=mask, format=fmt, saved_by=source)
                e = grid.get((loader, caseids.key(scen.id, case.case_id))) if case else None
                if e is None:
                    line[f"`{loader}`"] = "—"
                elif e.status == "skip" and e.row is not None:
                    line[f"`{loader}`"] = f"not saved (✗ {e.row.get('source_stage')} in `{source}`)"
                else:
                    line[f"`{loader}`"] = e.text
            table.append(line)
        out += ["", f"Format `{fmt}`, mask_value `{mask}`:", "", str(pd.DataFrame(table).to_markdown(index=False))]
    return [*out, ""]


def upgrade_section(scen: Scenario, rows: list[dict[str, Any]], matrix: Matrix, page: Path, root: Path) -> list[str]:
    """The upgrade paths of one machine: counts, the answers in sentences, the seed's tensor file, a link."""
    from harness.readers import upgrade_report

    df = upgrade_report.frame(rows, matrix, scen)
    out = [f"### {scen.title} (`{scen.id}`)", ""]
    if df.empty:
        return [*out, "No current upgrade rows: run `nox -s matrix`.", ""]
    counts = upgrade_report.counts(df)
    savers, loaders = df["saved_by"].nunique(), df["loaded_by"].nunique()
    link = f"[{page.name}]({Path(os.path.relpath(page, root)).as_posix()})"
    out.append(
        f"{len(df)} entries ({savers} saving cells × their cases × {loaders} loading cells): "
        + ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        + f". Every case's table: {link}."
    )
    out += [""] + [f"- {line}" for line in upgrade_report.answers(df, matrix)]
    seed = df[df["source"] == "masking-lstm/tensor-float64:.keras"]
    if not seed.empty:
        out += ["", "The seed's `.keras` file with a float64 tensor `mask_value`, saved by (rows) and loaded by:"]
        out += ["", upgrade_report.table(seed, matrix)]
    return [*out, ""]


def render_machine(
    machine_id: str, rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario], plots: Path, root: Path
) -> str:
    """The report section of one machine (rows from different machines are never merged)."""
    upgrade_ids = {s.id for s in scens if s.handler == "upgrade"}
    every = rows
    rows = [r for r in rows if r["scenario"] not in upgrade_ids]
    grid = entries(rows, matrix, scens)
    m = rows[0]["machine"]
    started = sorted(r["started_at"] for r in rows)
    commands = sorted({r.get("invoked_by", "") for r in rows} - {""})
    measured = {r["scenario"] for r in rows}
    statuses = [e.status for (_, col), e in grid.items() if caseids.split(col)[0] in measured]
    counts = pd.Series(statuses).value_counts().sort_index()
    out = [f"## Machine `{machine_id}`", ""]
    out.append(
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']} ({m['arch']}). "
        f"Rows measured from {started[0]} to {started[-1]} (UTC) by: " + ", ".join(f"`{c}`" for c in commands) + "."
    )
    out += ["", "Entries: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".", "", LEGEND, ""]
    for scen in scens:
        if scen.handler == "upgrade":
            if any(r["scenario"] == scen.id for r in every):
                page = root / "report" / f"upgrade-{machine_id}.md"
                out += upgrade_section(scen, every, matrix, page, root)
            else:
                out += [f"### {scen.title} (`{scen.id}`)", "", "Not run on this machine.", ""]
        elif scen.id not in measured:
            out += [f"### {scen.title} (`{scen.id}`)", "", "Not run on this machine.", ""]
        elif scen.timed:
            ordered = sorted(matrix.cells, key=cell_order)
            out += latency_report.section(rows, scen, matrix, ordered, _current, plots, root, machine_id)
        elif scen.handler == "crossload":
            out += crossload_section(scen, grid)
        else:
            out += scenario_section(scen, grid, matrix, plots / f"{scen.id}-{machine_id}.png", root, machine_id)
    out += ["### Cells", ""]
    by_cell: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_cell.setdefault(row["cell_id"], row)
    info = []
    for cell in sorted(matrix.cells, key=cell_order):
        r = by_cell.get(cell.id)
        pk = (r or {}).get("packages", {})
        info.append(
            {
                "cell": cell.id,
                "python": (r or {}).get("python", cell.python),
                "tensorflow": (r or {}).get("tensorflow") or "—",
                "keras": (r or {}).get("keras") or "—",
                "flavor": cell.flavor,
                "backend": cell.backend,
                "device": (r or {}).get("device", "not run"),
                "numpy": pk.get("numpy", "—"),
                "roles": ", ".join(cell.roles),
            }
        )
    out.append(_md(pd.DataFrame(info)))
    sigs = signatures(rows, matrix)
    out += ["", "### Error signatures", ""]
    if sigs.empty:
        out.append("No failures recorded.")
    for i, s in enumerate(sigs.to_dict("records")):
        cells = s["cells"]
        where = ", ".join(f"`{c}`" for c in cells[:6]) + (f" and {len(cells) - 6} more" if len(cells) > 6 else "")
        out.append(f"{i + 1}. `{s['signature']}` — {s['rows']} rows on {len(cells)} cells ({where}).")
        out.append(f"   Example ({s['example_cell']}, `{s['example_case']}`):")
        out.append("   ```text")
        out += [f"   {line}" for line in s["example"][:600].splitlines()[:8]]
        out.append("   ```")
    paired = {sc.id for sc in scens if sc.handler == "crossload"}  # shown in their own tables, rerun together

    def crossload(col: str) -> bool:
        return caseids.split(col)[0] in paired

    skips = sorted(
        {
            (e.row["error_message"], cid)
            for (cid, col), e in grid.items()
            if e.status == "skip" and e.row and not crossload(col)
        }
    )
    if skips:
        out += ["", "### Skipped: routes that do not exist in a cell", ""]
        reasons: dict[str, list[str]] = {}
        for reason, cid in skips:
            reasons.setdefault(reason, []).append(cid)
        out += [
            f"- {reason} ({', '.join(f'`{c}`' for c in sorted(set(cs)))})" for reason, cs in sorted(reasons.items())
        ]
    red = [(cid, col) for (cid, col), e in grid.items() if e.status not in ("ok", "stale", "not run", "skip")]
    alone = [(c, k) for c, k in red if not crossload(k)]
    out += ["", "### Reproduce a red entry", ""]
    out.append(f"{len(red)} entries are not `ok`; each reruns alone with the command beside it.")
    out += ["", "<details><summary>commands</summary>", "", "```sh"]
    order = {c.id: cell_order(c) for c in matrix.cells}
    gpu = any(str(r.get("device", "")).startswith("gpu") for r in rows)
    out += [repro_command(c, k, gpu) for c, k in sorted(alone, key=lambda x: (order[x[0]], x[1]))]
    if len(alone) < len(red):
        out.append(
            f"nox -s crossload -- --fresh   # the {len(red) - len(alone)} cross-load entries (cells save, then load)"
        )
    out += ["```", "", "</details>", ""]
    return "\n".join(out)


def render(rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario], plots: Path, root: Path) -> str:
    """The whole report: scope, exclusions, then one section per machine."""
    out = ["# Masking + RNN compatibility report", ""]
    out.append(
        "Generated by `nox -s report` from `results/` alone; do not edit by hand. "
        "Each entry is a real run of the case in a pinned environment (`nox -s matrix`)."
    )
    out += ["", "## Scenarios", ""]
    for s in scens:
        tol = s.tolerance
        if s.handler == "upgrade":
            out.append(
                f"- `{s.id}` (hash `{s.hash}`): {s.title}. The files the cases of "
                + ", ".join(f"`{x}`" for x in s.sources)
                + " saved, each loaded by every default cell and compared with the saving cell's outputs "
                "within that scenario's tolerance."
            )
            continue
        out.append(
            f"- `{s.id}` (hash `{s.hash}`): {s.title}. Outputs compare within rtol={tol['rtol']:g}, "
            f"atol={tol['atol']:g}. "
            + f"{len(s.cases())} cases: "
            + " + ".join(" × ".join(f"{k} ∈ {{{', '.join(v)}}}" for k, v in g.items()) for g in s.params)
            + ". Runs on "
            + (", ".join(f"`{c}`" for c in s.cells) if s.cells else "every cell")
            + "."
        )
    out += ["", "## Excluded cells", ""]
    out += [f"- `{e.id}`: {e.reason}" for e in matrix.excluded] or ["None."]
    machines = sorted({r["machine"]["id"] for r in rows})
    known = {c.id for c in matrix.cells}
    unknown = sorted({r["cell_id"] for r in rows} - known)
    if unknown:
        out += ["", f"Rows for cells no longer in `cells/cells.toml` are ignored: {', '.join(unknown)}."]
    if not machines:
        out += ["", "No results yet: run `nox -s matrix`."]
    for mid in machines:
        mrows = [r for r in rows if r["machine"]["id"] == mid and r["cell_id"] in known]
        if mrows:
            # Cells outside the default matrix (the GPU ones) appear only on machines that ran them; a machine
            # that ran no default cell (a GPU machine) shows only its own cells.
            ran = {r["cell_id"] for r in mrows}
            defaults = any(c.default and c.id in ran for c in matrix.cells)
            shown = Matrix(tuple(c for c in matrix.cells if c.id in ran or (defaults and c.default)), matrix.excluded)
            out += ["", render_machine(mid, mrows, shown, scens, plots, root)]
    return "\n".join(out).rstrip() + "\n"


def write(rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario], out: Path, plots: Path) -> None:
    """Render and write report.md and its detail pages in `report/` beside it (plots in `plots`)."""
    from harness.readers import upgrade_report

    root = out.resolve().parent
    text = render(rows, matrix, scens, plots, root)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    for scen in (s for s in scens if s.handler == "upgrade"):
        for mid in sorted({r["machine"]["id"] for r in rows if r["scenario"] == scen.id}):
            mine = [r for r in rows if r["machine"]["id"] == mid]
            df = upgrade_report.frame(mine, matrix, scen)
            page = root / "report" / f"upgrade-{mid}.md"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(upgrade_report.detail_page(df, matrix, scens, mid), encoding="utf-8")
