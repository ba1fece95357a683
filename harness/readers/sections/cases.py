"""The compatibility cases' section: per scenario a table of entries, where each case holds by family, the
heat-map and the scenario page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.decl import caseids
from harness.decl.cells import Matrix
from harness.decl.scenarios import Scenario
from harness.readers.model import COLOURS, LEGEND, Entry, View, cell_order, family_runs, ranges, verdict_words
from harness.readers.pages import Pages, entries_block, linked, md, rel

GRID = True  # its cases are entries of the machine's grid (and listed in the summary)
LISTED = True
APART = False  # its rows are the machine's own


def compat_table(grid: dict[tuple[str, str], Entry], matrix: Matrix, scens: list[Scenario]) -> pd.DataFrame:
    """Rows = cells the scenarios apply to, in version order; columns = cases; values = Entry."""
    cells = [c for c in sorted(matrix.cells, key=cell_order) if all(s.applies_to(c.id, c.tags) for s in scens)]
    columns = [caseids.key(s.id, c.case_id) for s in scens for c in s.cases()]
    data = [[grid[(cell.id, col)] for col in columns] for cell in cells]
    return pd.DataFrame(data, index=[c.id for c in cells], columns=columns)


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
                told.append(f"{group}: {verdict_words(runs[0][0])} on every cell ({count})")
            else:
                told.append(f"{group}: " + "; ".join(f"{verdict_words(t)} on {ranges(ls)}" for t, ls in runs))
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
                row[group] = "; ".join(f"{t}: {ranges(ls)}" for t, ls in runs)
        out[caseids.split(col)[1]] = row
    return pd.DataFrame.from_dict(out, orient="index").fillna("")


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


WIDEST = 40  # cases: a scenario with more gets no full table on its page


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
        out += ["Per family (ranges follow the table's version order):", "", md(summary)]
    out += ["", f"![{scen.id} heat-map: cases as rows, cells as columns]({rel(plot, pages.dir)})", ""]
    if len(table.columns) > WIDEST:  # a table this wide is no page: the per-family table, the plot, the site
        out += ["## Every entry", "", f"{len(table.columns)} cases in {len(table.index)} cells are too many for "
                "one table: the per-family table and the heat-map above hold them, each entry is in "
                "`results/summary.json`, and the site's matrix shows them one by one.", ""]  # fmt: skip
    else:
        shown = table.map(lambda e: linked(e, sigs, pages))
        shown.columns = [caseids.split(c)[1] for c in shown.columns]
        shown.insert(0, "cell", [f"[`{c}`](#cell-{c})" for c in table.index])
        out += ["## Every entry (failing entries link to their error signature)", "", md(shown), ""]
    out += entries_block(scen, grid, matrix)
    return "\n".join(out) + "\n"


def page(view: View, scen: Scenario, pages: Pages, plots: Path, sigs: dict[str, int]) -> str | None:
    """The scenario's page on the machine (None where the machine did not run it)."""
    if scen.id not in view.ran:
        return None
    return scenario_page(scen, view.grid, view.shown, pages, plots, sigs)
