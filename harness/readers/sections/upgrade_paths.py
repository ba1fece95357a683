"""Upgrade paths in the report: files saved by one cell, loaded by another, told in version ranges by family.

Three views, each computed from the upgrade rows alone:
- per source case, the N x N table collapsed: saving cells that every loading cell treats alike form one
  row, loading cells that treat every saving cell alike one column, each labelled with its version range;
- per route (the seed's tensor file and each workaround for it), how many (saving, loading) pairs of each
  kind of upgrade load and predict the same: Keras 2 -> Keras 3, Keras 3 -> a newer Keras 3, ...;
- sentences that answer from those: which releases load a file the affected releases saved, whether a
  list mask carries a Keras 2 file into Keras 3, and which route carries a tensor mask across.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pandas as pd

from harness.decl import caseids
from harness.decl.cells import Cell, Matrix
from harness.decl.scenarios import Scenario
from harness.readers.model import (
    MARKS,
    TRANSITIONS,
    View,
    cause_of,
    cell_order,
    failing_text,
    family,
    label,
    runs_label,
)
from harness.readers.pages import Pages
from harness.store import fresh

GRID = False  # its entries are pairs of cells, told on its own page
LISTED = False  # its cases are files of other cases
APART = True  # its rows are not the machine's plain rows


SEED = "masking-lstm"

SEED_FILE = "masking-lstm/tensor-float64:.keras"
# Each route's files for a tensor mask, float64 and float32 (the list route: the mask given as a list), as the upgrade
# rows name them: every sentence and table about routes counts these files.
ROUTE_FILES = {
    "list": ("workarounds/list:list:.keras", "workarounds/list:list:.h5"),
    "custom-layer": tuple(
        f"workarounds/custom-layer:tensor-{d}:{f}" for d in ("float64", "float32") for f in (".keras", ".h5")
    ),
    "custom-objects": tuple(f"workarounds/custom-objects:tensor-{d}:.keras" for d in ("float64", "float32")),
    "savedmodel": tuple(f"workarounds/savedmodel:tensor-{d}:savedmodel" for d in ("float64", "float32")),
    "weights-only": tuple(f"workarounds/weights-only:tensor-{d}:.weights.h5" for d in ("float64", "float32")),
    "repair": tuple(f"workarounds/repair:tensor-{d}:.keras" for d in ("float64", "float32")),
    "none (the plain tensor file)": (SEED_FILE, "masking-lstm/tensor-float32:.keras"),
}


def status(row: dict[str, Any]) -> str:
    """The entry text of one upgrade row: `ok`, `✗ stage · cause`, `≠ stage · cause`, `not saved` (the saving cell
    made no file)."""
    if row["outcome"] == "ok":
        return "ok"
    if row["failed_stage"] == "source":
        return "not saved" if row.get("error_type") != "MissingFile" else "file missing"
    return failing_text(MARKS.get(row["outcome"], row["outcome"]), row["failed_stage"], cause_of(row))


def frame(rows: list[dict[str, Any]], matrix: Matrix, upgrade: Scenario) -> pd.DataFrame:
    """One record per current upgrade row: source case, saving cell, loading cell, entry text."""
    cells = {c.id: c for c in matrix.cells}
    records = []
    for r in rows:
        if r["scenario"] != upgrade.id or r["cell_id"] not in cells:
            continue
        saver = cells.get(r["params"]["saved_by"])
        if saver is None or not fresh.current(r, cells[r["cell_id"]], upgrade, saver):
            continue
        records.append(
            {"source": r["params"]["source"], "saved_by": saver.id, "loaded_by": r["cell_id"], "text": status(r)}
        )
    return pd.DataFrame(records, columns=["source", "saved_by", "loaded_by", "text"])


def collapse(df: pd.DataFrame, matrix: Matrix) -> tuple[list[list[Cell]], list[list[Cell]], list[list[str]]]:
    """One source case's N x N table with alike neighbours merged: row runs (savers), column runs (loaders); where
    the same cells save and load, one set of runs serves both axes."""
    cells = {c.id: c for c in matrix.cells}
    grid = {(str(r.saved_by), str(r.loaded_by)): str(r.text) for r in df.itertuples()}
    savers = sorted({cells[s] for s, _ in grid}, key=cell_order)
    loaders = sorted({cells[ld] for _, ld in grid}, key=cell_order)

    def runs(items: list[Cell], vector: Any) -> list[list[Cell]]:
        return [list(g) for _, g in itertools.groupby(items, key=lambda c: (family(c), vector(c)))]

    def row(sv: Cell) -> tuple[str, ...]:
        return tuple(grid.get((sv.id, ld.id), "") for ld in loaders)

    def col(ld: Cell) -> tuple[str, ...]:
        return tuple(grid.get((sv.id, ld.id), "") for sv in savers)

    if savers == loaders:  # one set of version boundaries for both axes: cells merge when alike both ways
        rows = cols = runs(savers, lambda c: (row(c), col(c)))
    else:
        rows, cols = runs(savers, row), runs(loaders, col)
    return rows, cols, [[grid.get((r[0].id, c[0].id), "") for c in cols] for r in rows]


def table(df: pd.DataFrame, matrix: Matrix) -> str:
    """The collapsed table as markdown: saved by (rows) against loaded by (columns)."""
    rows, cols, grid = collapse(df, matrix)
    frame_ = pd.DataFrame(grid, columns=[label(c) for c in cols])
    frame_.insert(0, "saved by ↓ / loaded by →", [label(r) for r in rows])
    return str(frame_.to_markdown(index=False))


def transition(saver: Cell, loader: Cell) -> str | None:
    """The kind of upgrade (or downgrade) moving a file from saver to loader is, as TRANSITIONS defines them (None:
    another kind, or the saving cell itself)."""
    from packaging.version import Version

    if saver.id == loader.id:
        return None
    old_s, old_l = saver.flavor in ("keras2", "tf_keras"), loader.flavor in ("keras2", "tf_keras")
    if old_s:
        return "Keras 2 → Keras 3" if not old_l else None
    if old_l:
        return "Keras 3 → Keras 2"
    vs, vl = Version(saver.keras or "0"), Version(loader.keras or "0")
    return "Keras 3 → newer Keras 3" if vl > vs else "Keras 3 → older Keras 3" if vl < vs else "Keras 3 → same Keras 3"


def routes(df: pd.DataFrame, matrix: Matrix) -> pd.DataFrame:
    """Per route (its files for a float64 and a float32 tensor mask), `ok k/n` per kind of upgrade, over the
    saved files of (saving, loading) pairs of different cells."""
    cells = {c.id: c for c in matrix.cells}
    out: dict[str, dict[str, str]] = {}
    for route, files in ROUTE_FILES.items():
        sub = df[df["source"].isin(files) & (df["text"] != "not saved")]
        if sub.empty:
            continue
        tally: dict[str, list[int]] = {}
        for r in sub.itertuples():
            kind = transition(cells[str(r.saved_by)], cells[str(r.loaded_by)])
            if kind:
                ok_n = tally.setdefault(kind, [0, 0])
                ok_n[0] += int(str(r.text) == "ok")
                ok_n[1] += 1
        out[route] = {k: f"{tally[k][0]}/{tally[k][1]}" if k in tally else "—" for k in TRANSITIONS}
    return pd.DataFrame.from_dict(out, orient="index", columns=list(TRANSITIONS))


def ok_loaders(df: pd.DataFrame, savers: list[Cell], matrix: Matrix) -> tuple[list[Cell], list[Cell]]:
    """Loaders where every one of these savers' files loads and predicts the same, and the rest."""
    cells = {c.id: c for c in matrix.cells}
    ids = {c.id for c in savers}
    sub = df[df["saved_by"].isin(ids)]
    good = sub.groupby("loaded_by")["text"].agg(lambda t: all(x == "ok" for x in t))
    ordered = sorted((cells[str(i)] for i in good.index), key=cell_order)
    return [c for c in ordered if good[c.id]], [c for c in ordered if not good[c.id]]


def answers(df: pd.DataFrame, matrix: Matrix) -> list[str]:
    """Sentences that answer the upgrade questions from the rows."""
    cells = {c.id: c for c in matrix.cells}
    out = []
    tensor = df[df["source"] == f"{SEED}/tensor-float64:.keras"]
    if not tensor.empty:
        own = tensor[tensor["saved_by"] == tensor["loaded_by"]]
        affected = sorted((cells[str(r.saved_by)] for r in own.itertuples() if r.text not in ("ok", "not saved")),
                          key=cell_order)  # fmt: skip
        if affected:
            good, bad = ok_loaders(tensor, affected, matrix)
            out.append(
                f"A `.keras` file with a float64 tensor `mask_value` saved by the releases that cannot run it after "
                f"loading themselves ({runs_label(affected)}) loads and predicts the same on {runs_label(good)}; "
                f"it does not on {runs_label(bad)}."
            )
    for fmt in (".keras", ".h5"):
        lst = df[(df["source"] == f"{SEED}/list:{fmt}") & (df["text"] != "not saved")]
        pairs = [
            r
            for r in lst.itertuples()
            if family(cells[str(r.saved_by)]) in ("Keras 2", "tf-keras")
            and family(cells[str(r.loaded_by)]).startswith("Keras 3")
        ]
        if pairs:
            ok = sum(r.text == "ok" for r in pairs)
            how = pd.Series([r.text for r in pairs if r.text != "ok"]).value_counts()
            fails = ", ".join(f"{n} `{t}`" for t, n in how.items())
            out.append(
                f"A list `mask_value` does {'not ' if ok == 0 else ''}carry a Keras 2 `{fmt}` file into Keras 3: "
                f"{ok} of {len(pairs)} (Keras 2 or tf-keras file, Keras 3 loader) pairs load and predict the same"
                + (f"; the others: {fails}." if fails else ".")
            )
    table_ = routes(df, matrix)
    for kind in ("Keras 2 → Keras 3", "Keras 3 → newer Keras 3"):
        if kind not in table_.columns:
            continue
        col = table_[kind]
        best = [f"`{src}` ({col[src]})" for src in table_.index if _all_ok(col[src])]
        out.append(
            f"{kind}, a tensor mask (float64 or float32): "
            + (
                f"every pair loads and predicts the same by {', '.join(best)}"
                if best
                else "no route works for every pair"
            )
            + "; per route: "
            + (", ".join(f"`{s}` {col[s]}" for s in table_.index if col[s] != "—") or "no file saved")
            + "."
        )
    return out


def _all_ok(cell: str) -> bool:
    ok, _, n = cell.partition("/")
    return bool(n) and ok == n and n != "0"


def counts(df: pd.DataFrame) -> dict[str, int]:
    """How many (saving cell, case, loading cell) entries have each text, for the summary line."""
    return {str(k): int(v) for k, v in df["text"].value_counts().items()}


def detail_page(df: pd.DataFrame, matrix: Matrix, scens: list[Scenario], machine_id: str) -> str:
    """Every source case's upgrade paths as a collapsed table (a page of its own)."""
    out = [f"# Upgrade paths on `{machine_id}`", ""]
    out.append(
        "Every file a default cell saved in its compatibility cases, loaded by every default cell the way its "
        "route prescribes (Keras 3 with safe mode on), run, and compared with the saving cell's outputs and "
        "masking reference. Rows: saving cells; columns: loading cells; neighbours that behave alike are merged "
        "into one version range. `ok`: loads and gives the saving cell's outputs; `✗ stage`: fails there; "
        "`≠ stage`: runs, other outputs (each failing entry names its cause, listed on the machine page); "
        "`not saved`: fails at build or save in the saving cell, so there is no file to load. "
        "Generated from `results/` by `nox -s report`."
    )
    out += ["", "## Routes for a tensor mask, by kind of upgrade", "",
            "Pairs of different cells whose file (each route's files for a float64 and a float32 mask) loads and "
            "predicts the same; the kinds are defined in report.md's glossary:"]  # fmt: skip
    out += ["", str(routes(df, matrix).to_markdown()), ""]
    order = {caseids.key(s.id, c.case_id): i for i, (s, c) in enumerate((s, c) for s in scens for c in s.cases())}
    for source in sorted(set(df["source"]), key=lambda k: order.get(k, len(order))):
        out += [f"## `{source}`", "", table(df[df["source"] == source], matrix), ""]
    return "\n".join(out)


def page(view: View, scen: Scenario, pages: Pages, plots: Path, sigs: dict[str, int]) -> str | None:
    """The machine's upgrade-paths page (None where it loaded nothing); its frame is left for the answers."""
    df = frame(view.rows, view.shown, scen)
    if df.empty:
        return None
    view.frames[scen.handler] = df
    return detail_page(df, view.shown, view.scens, view.machine_id)


def summarize(out: dict[str, Any], view: View, scen: Scenario, sources: dict[str, int]) -> None:
    """Every (saving, loading) pair of the machine in the summary, its sources numbered across machines."""
    df = frame(view.rows, view.shown, scen)
    for (saver, loader), grp in df.groupby(["saved_by", "loaded_by"], sort=False):
        by_text: dict[str, list[int]] = {}
        for src, text in zip(grp["source"], grp["text"], strict=True):
            by_text.setdefault(str(text), []).append(sources.setdefault(str(src), len(sources)))
        out["upgrade"]["pairs"].append(
            {"machine": view.machine_id, "saved_by": str(saver), "loaded_by": str(loader), "entries": by_text}
        )
