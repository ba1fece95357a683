"""report.md and the heat-map, computed from stored rows only (pandas, matplotlib; never TensorFlow)."""

from __future__ import annotations

import itertools
import json
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
COLOURS = {  # Okabe-Ito: told apart with every common colour-vision deficiency
    "ok": "#009E73",
    "fail": "#D55E00",
    "mismatch": "#E69F00",
    "crash": "#CC79A7",
    "timeout": "#56B4E9",
    "skip": "#BBBBBB",
    "stale": "#F0E442",
    "not run": "#FFFFFF",
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


def heatmap(table: pd.DataFrame, path: Path, title: str) -> None:
    """A categorical heat-map with cases as rows and cells as columns, 900 px wide, written deterministically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    names = list(COLOURS)
    cases = list(table.columns)
    codes = [[names.index(table.loc[cell, case].status) for cell in table.index] for case in cases]
    fig, ax = plt.subplots(figsize=(9, 1.9 + 0.24 * len(cases)), dpi=100)
    ax.imshow(codes, cmap=ListedColormap(list(COLOURS.values())), vmin=0, vmax=len(names) - 1, aspect="auto")
    ax.set_yticks(range(len(cases)), [caseids.split(c)[1] for c in cases], fontsize=7)
    short = [str(c).replace("-keras", " k").replace("tfkeras", "tf-k") for c in table.index]
    ax.set_xticks(range(len(table.index)), short, rotation=75, ha="right", fontsize=6)
    if len(table.index) <= 12:  # room for the stage's name inside each entry
        for i, case in enumerate(cases):
            for j, cell in enumerate(table.index):
                e = table.loc[cell, case]
                if e.status not in ("ok", "not run") and e.stage:
                    ax.text(j, i, e.stage.replace("predict_after_load", "pred.after"), ha="center", va="center",
                            fontsize=6)  # fmt: skip
    ax.legend(
        handles=[Patch(facecolor=COLOURS[n], edgecolor="#555555", label=n) for n in names],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=len(names),
        fontsize=7,
        frameon=False,
    )
    ax.set_title(title, fontsize=9, pad=22)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


def _md(df: pd.DataFrame) -> str:
    return str(df.to_markdown(index=False))


def _rel(target: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(target, page_dir)).as_posix()


LEGEND = (
    "`ok`: every stage passed; `✗ stage`: failed at that stage; `≠ stage`: ran but outputs differ (after load, "
    "or padded steps changed the output); `skip`: the route does not exist there; `crash` / `timeout`: the worker "
    "died or hung there; `stale`: the stored row was measured by other code, scenario or pins; `not run`: no row."
)
GLOSSARY = {
    "cell": "one pinned environment: Python, TensorFlow and/or Keras (or tf-keras) releases and a backend, "
    "installed on its own (`cells/cells.toml`); its id names the pins, e.g. `tf2.19.1-keras3.8.0`.",
    "case": "one declared combination of a scenario's parameters (`scenarios/*.toml`), e.g. "
    "`masking-lstm/tensor-float64:.keras`: a float64 tensor `mask_value`, saved as `.keras`.",
    "route": "a published way around the tensor `mask_value` problem, measured as its own case: `list` (a plain "
    "list), `custom-layer` (a Masking subclass with a serializable config), `custom-objects` (plain Masking, "
    "loaded with `custom_objects`), `savedmodel` (SavedModel / `export`), `weights-only` (weights into a "
    "rebuilt model), `repair` (the file rewritten by `python -m harness repair`).",
    "stage": "the step where a case stopped: build, predict, masking, save, repair, load, predict_after_load, "
    "equivalence (outputs after load differ from before), masking_after_load.",
    "floor": "the same LSTM computed with the backend's own primitives (no Keras layer): the least a masked "
    "RNN can cost on that backend, so `Keras / floor` is Keras' overhead.",
    "reference correction": "each timing sample is divided by a fixed pure-Python workload timed in the same "
    "process around it, then converted back to milliseconds at the machine's fast-state speed; it removes "
    "the machine's drift between processes (README, Latency).",
    "⚠": "a latency figure whose own 95% confidence interval is wider than 20% of its median, or that has none.",
    "stale": "a stored row measured by another version of the code that measures it, another scenario "
    "declaration or other pins; `nox -s matrix` measures it again.",
    "upgrade path": "a file one cell saved, loaded by another cell the way its route prescribes (safe mode on), "
    "run and compared with the saving cell's outputs.",
}


def reproduce(cell_id: str, key: str, row: dict[str, Any] | None) -> str:
    """The one command that reruns one entry with the packages its row recorded (GPU and latency: nox)."""
    scen = caseids.split(key)[0]
    if row is not None and str(row.get("device", "")).startswith("gpu"):
        return f'nox -s matrix -- --cell {cell_id} --case "{key}" --fresh --device gpu'
    if scen == "latency" or row is None or not row.get("packages"):
        session = "bench" if scen == "latency" else "matrix"
        return f'nox -s {session} -- --cell {cell_id} --case "{key}" --fresh'
    pins = " ".join(f"--with {name}=={version}" for name, version in sorted(row["packages"].items()))
    index = " --index https://download.pytorch.org/whl/cpu" if "+cpu" in " ".join(row["packages"].values()) else ""
    return (
        f"uv run --no-project --python {row['python']}{index} {pins} -- "
        f'python -m harness run --cell {cell_id} --case "{key}" --fresh'
    )


def sig_numbers(rows: list[dict[str, Any]], matrix: Matrix) -> dict[str, int]:
    """Error signature -> its number on the machine page (most rows first)."""
    return {str(s): i + 1 for i, s in enumerate(signatures(rows, matrix)["signature"])}


class Pages:
    """Where a machine's detail pages live, and links between them."""

    def __init__(self, root: Path, machine_id: str) -> None:
        self.root, self.machine_id, self.dir = root, machine_id, root / "report"

    def scenario(self, scen_id: str) -> Path:
        """The page of one scenario on this machine."""
        return self.dir / f"{scen_id}-{self.machine_id}.md"

    def machine(self) -> Path:
        """The page of this machine: cells, error signatures, skips."""
        return self.dir / f"machine-{self.machine_id}.md"


def linked(e: Entry, sigs: dict[str, int], pages: Pages) -> str:
    """An entry's text; a failing entry links to its error signature on the machine page."""
    sig = (e.row or {}).get("error_signature")
    if e.status in ("fail", "mismatch", "crash", "timeout") and sig in sigs:
        return f"[{e.text}]({pages.machine().name}#sig-{sigs[sig]})"
    return e.text


def entries_block(scen: Scenario, grid: dict[tuple[str, str], Entry], matrix: Matrix) -> list[str]:
    """Per cell (with an anchor): when and by what its rows were measured, the packages, then every entry's
    reproduce command."""
    out = ["## Entries: provenance and reproduce commands", ""]
    out.append(
        "Each command reruns one entry with the packages its row recorded (`uv` makes a throwaway environment); "
        "`nox -s matrix -- --cell ID --fresh` reruns a whole cell with its declared pins."
    )
    for cell in sorted(matrix.cells, key=cell_order):
        if not scen.applies_to(cell.id, cell.tags):
            continue
        keys = [caseids.key(scen.id, c.case_id) for c in scen.cases()]
        got = [(k, grid[(cell.id, k)]) for k in keys if (cell.id, k) in grid]
        rows = [e.row for _, e in got if e.row]
        out += ["", f'<a id="cell-{cell.id}"></a>', f"### `{cell.id}`", ""]
        if rows:
            first = rows[0]
            when = sorted(r["started_at"] for r in rows)
            commits = sorted({str(r.get("harness_commit") or "not recorded") for r in rows})
            packages = ", ".join(f"{k}=={v}" for k, v in sorted((first.get("packages") or {}).items()))
            out.append(
                f"Measured {when[0]} to {when[-1]} by `{first.get('measured_by')}`, harness "
                f"{first.get('harness_version')} (commit {', '.join(commits)}), Python {first.get('python')}, "
                f"device {first.get('device')}; packages: {packages}; command: `{first.get('invoked_by')}`."
            )
        else:
            out.append("No row yet.")
        out += ["", "| case | entry | reproduce |", "|---|---|---|"]
        out += [f"| `{caseids.split(k)[1]}` | {e.text} | `{reproduce(cell.id, k, e.row)}` |" for k, e in got]
    return out


def scenario_page(
    scen: Scenario, grid: dict[tuple[str, str], Entry], matrix: Matrix, pages: Pages, plots: Path,
    sigs: dict[str, int],
) -> str:  # fmt: skip
    """One scenario on one machine: where each case holds, the full table, the heat-map, every entry's provenance."""
    table = compat_table(grid, matrix, [scen])
    out = [f"# {scen.title} (`{scen.id}`) on `{pages.machine_id}`", ""]
    out += [f"[← report](../report.md) · [machine, error signatures]({pages.machine().name}) · {LEGEND}", ""]
    if table.empty:
        return "\n".join([*out, "No cell runs this scenario.", ""])
    plot = plots / f"{scen.id}-{pages.machine_id}.png"
    heatmap(table, plot, f"{scen.id} — {pages.machine_id}")
    out += ["## Where each case holds", ""]
    if len(table.columns) <= 12:
        out += [f"- {line}" for line in findings(table, matrix)]
    else:
        summary = summary_table(table, matrix)
        summary.insert(0, "case", list(summary.index))
        out += ["Per family (ranges follow the table's version order):", "", _md(summary)]
    out += ["", f"![{scen.id} heat-map: cases as rows, cells as columns]({_rel(plot, pages.dir)})", ""]
    shown = table.map(lambda e: linked(e, sigs, pages))
    shown.columns = [caseids.split(c)[1] for c in shown.columns]
    shown.insert(0, "cell", [f"[`{c}`](#cell-{c})" for c in table.index])
    out += ["## Every entry (failing entries link to their error signature)", "", _md(shown), ""]
    out += entries_block(scen, grid, matrix)
    return "\n".join(out) + "\n"


def crossload_page(scen: Scenario, grid: dict[tuple[str, str], Entry], pages: Pages) -> str:
    """One N x N table per format and mask value: rows = the cell that saved, columns = the cell that loaded."""
    out = [f"# {scen.title} (`{scen.id}`) on `{pages.machine_id}`", "", "[← report](../report.md)", ""]
    out.append(
        "Each cell of the set saves the model; every cell then loads every saved file with Keras' safe mode on "
        "and predicts; `ok` means the outputs equal the saving cell's own (within the tolerance). "
        "`not saved`: the saving cell could not produce that file (the stage where it failed). "
        "The upgrade paths (every default cell) supersede this four-cell set; "
        "reproduce: `nox -s crossload -- --fresh`."
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
    return "\n".join(out) + "\n"


def machine_page(machine_id: str, rows: list[dict[str, Any]], matrix: Matrix, grid: dict[tuple[str, str], Entry],
                 sigs: dict[str, int]) -> str:  # fmt: skip
    """A machine: what it is, when it measured, its cells, every error signature (anchored), the skipped routes."""
    m = rows[0]["machine"]
    started = sorted(r["started_at"] for r in rows)
    commands = sorted({r.get("invoked_by", "") for r in rows} - {""})
    counts = pd.Series([e.status for e in grid.values() if e.status != "not run"]).value_counts().sort_index()
    out = [f"# Machine `{machine_id}`", "", "[← report](../report.md)", ""]
    out.append(
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']} ({m['arch']})"
        + (f", {m['gpu']}" if m.get("gpu") else "")
        + f". Rows measured from {started[0]} to {started[-1]} (UTC) by: "
        + ", ".join(f"`{c}`" for c in commands)
        + ". Entries: "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + "."
    )
    out += ["", "## Cells", ""]
    by_cell: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_cell.setdefault(row["cell_id"], row)
    info = []
    for cell in sorted(matrix.cells, key=cell_order):
        r = by_cell.get(cell.id) or {}
        info.append(
            {
                "cell": f'<a id="cell-{cell.id}"></a>`{cell.id}`',
                "python": r.get("python", cell.python),
                "packages": ", ".join(f"{k} {v}" for k, v in sorted((r.get("packages") or {}).items())) or "not run",
                "backend": cell.backend,
                "device": r.get("device", "not run"),
                "roles": ", ".join(cell.roles),
            }
        )
    out.append(_md(pd.DataFrame(info)))
    table = signatures(rows, matrix)
    out += ["", "## Error signatures", ""]
    if table.empty:
        out.append("No failures recorded.")
    for s in table.to_dict("records"):
        cells = s["cells"]
        where = ", ".join(f"`{c}`" for c in cells[:6]) + (f" and {len(cells) - 6} more" if len(cells) > 6 else "")
        out.append(f'{sigs[s["signature"]]}. <a id="sig-{sigs[s["signature"]]}"></a>`{s["signature"]}` — ')
        out[-1] += f"{s['rows']} rows on {len(cells)} cells ({where})."
        out.append(f"   Example ({s['example_cell']}, `{s['example_case']}`):")
        out.append("   ```text")
        out += [f"   {line}" for line in s["example"][:600].splitlines()[:8]]
        out.append("   ```")
    skips = sorted(  # files a cell could not save for another (stage `source`) are in the cross-load tables
        {(e.row["error_message"], cid) for (cid, _), e in grid.items()
         if e.status == "skip" and e.row and e.row.get("failed_stage") != "source"}
    )  # fmt: skip
    if skips:
        out += ["", "## Skipped: routes that do not exist in a cell", ""]
        reasons: dict[str, list[str]] = {}
        for reason, cid in skips:
            reasons.setdefault(reason, []).append(cid)
        out += [f"- {why} ({', '.join(f'`{c}`' for c in sorted(set(cs)))})" for why, cs in sorted(reasons.items())]
    return "\n".join(out) + "\n"


def latency_page(rows: list[dict[str, Any]], scen: Scenario, matrix: Matrix, pages: Pages, plots: Path) -> str:
    """The latency of one machine: tables, plots, and how to rerun a cell's timing."""
    ordered = sorted(matrix.cells, key=cell_order)
    body = latency_report.section(rows, scen, matrix, ordered, _current, plots, pages.dir, pages.machine_id)
    out = [f"# {scen.title} (`{scen.id}`) on `{pages.machine_id}`", "", "[← report](../report.md)", "", *body[2:]]
    out += [
        "",
        "Reproduce any entry: `nox -s bench -- --cell CELL --case CASE --fresh` times it again beside nothing else "
        "(`nox -s bench -- --fresh` times every cell, rounds interleaved, which is what makes them comparable).",
    ]
    return "\n".join(out) + "\n"


def write(
    rows: list[dict[str, Any]],
    matrix: Matrix,
    scens: list[Scenario],
    out: Path,
    plots: Path,
    records: list[dict[str, Any]] | None = None,
    command: str = "nox -s report",
    commit: str | None = None,
    summary_path: Path | None = None,
) -> dict[str, Any]:
    """Write report.md (answers first), its detail pages in `report/`, and summary.json beside the results."""
    from harness.readers import answers, summary, upgrade_report

    records = records or []
    root = out.resolve().parent
    pages_dir = root / "report"
    pages_dir.mkdir(parents=True, exist_ok=True)
    for old in pages_dir.glob("*.md"):
        old.unlink()  # pages of machines or scenarios that no longer exist go
    data = summary.build(rows, matrix, scens, records, command, commit)
    index: list[tuple[str, str, Path]] = []  # (machine, title, page)
    upgrades: dict[str, pd.DataFrame] = {}
    views: dict[str, tuple[Matrix, dict[tuple[str, str], Entry]]] = {}  # machine -> (its cells, its entries)
    for mid, mrows, shown in summary.machine_views(rows, matrix):
        pages = Pages(root, mid)
        plain = [r for r in mrows if not any(s.id == r["scenario"] and s.handler == "upgrade" for s in scens)]
        ran = {r["scenario"] for r in plain}
        grid = entries(plain, shown, [s for s in scens if s.id in ran and not s.timed])
        views[mid] = (shown, grid)
        sigs = sig_numbers(plain, shown)
        for scen in scens:
            page = pages.scenario(scen.id)
            if scen.handler == "upgrade":
                df = upgrade_report.frame(mrows, shown, scen)
                if df.empty:
                    continue
                upgrades[mid] = df
                page.write_text(upgrade_report.detail_page(df, shown, scens, mid), encoding="utf-8")
            elif scen.id not in ran:
                continue
            elif scen.timed:
                page.write_text(latency_page(plain, scen, shown, pages, plots), encoding="utf-8")
            elif scen.handler == "crossload":
                page.write_text(crossload_page(scen, grid, pages), encoding="utf-8")
            else:
                page.write_text(scenario_page(scen, grid, shown, pages, plots, sigs), encoding="utf-8")
            index.append((mid, scen.title + f" (`{scen.id}`)", page))
        pages.machine().write_text(machine_page(mid, plain, shown, grid, sigs), encoding="utf-8")
        index.append((mid, "Machine: cells, packages, error signatures, skipped routes", pages.machine()))
    text = answers.render(data, views, matrix, scens, upgrades, records, index, root)
    out.write_text(text, encoding="utf-8")
    summary_path = summary_path or root / "results" / "summary.json"
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(json.dumps(data, indent=None, separators=(",", ":"), ensure_ascii=False) + "\n",
                            encoding="utf-8")  # fmt: skip
    return data
