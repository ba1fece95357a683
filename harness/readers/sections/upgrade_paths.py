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
    ZOO_NAMES,
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
# The shim route (`repair --for`): a whole-model file that fails, rewritten for the loading release. Each of these
# sources also gives a record under SHIM + source: its text as the shim left it (the file's own where it loads).
SHIM = "shim/"
SHIM_SOURCES = ("masking-lstm/", "workarounds/list:")
ROUTE_FILES["shim"] = tuple(SHIM + f for f in ROUTE_FILES["none (the plain tensor file)"])


def status(row: dict[str, Any]) -> str:
    """The entry text of one upgrade row: `ok`, `✗ stage · cause`, `≠ stage · cause`, `not saved` (the saving cell
    made no file)."""
    if row["outcome"] == "ok":
        return "ok"
    if row["failed_stage"] == "source":
        return "not saved" if row.get("error_type") != "MissingFile" else "file missing"
    return failing_text(MARKS.get(row["outcome"], row["outcome"]), row["failed_stage"], cause_of(row))


def shim_status(row: dict[str, Any]) -> str:
    """The entry text of a row's file through the shim route: the file's own where it loads or the shim had nothing
    to change, else how the rewritten file did."""
    tried = row.get("shim")
    if row["outcome"] == "ok" or not tried or tried.get("outcome") == "skip":
        return status(row)
    return status({**tried, "outcome": tried["outcome"]})


def shim_tries(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Every failing row the shim route was tried on: its cause as saved and how the rewritten file did."""
    records = [
        {"cause": cause_of(r), "text": status(r["shim"]) if r["shim"].get("outcome") != "skip" else "nothing to drop"}
        for r in rows
        if r.get("shim")
    ]
    return pd.DataFrame(records, columns=["cause", "text"])


def frame(rows: list[dict[str, Any]], matrix: Matrix, upgrade: Scenario) -> pd.DataFrame:
    """One record per current upgrade row: source case, saving cell, loading cell, entry text (and one more per
    whole-model file of SHIM_SOURCES, under SHIM + source: the shim route's text)."""
    records = []
    for r in current(rows, matrix, upgrade):
        source, saver = r["params"]["source"], r["params"]["saved_by"]
        shim = shim_status(r)
        records.append(
            {"source": source, "saved_by": saver, "loaded_by": r["cell_id"], "text": status(r), "shim": shim}
        )
        if source.startswith(SHIM_SOURCES):  # whole-model files of the plain and list routes
            records.append({"source": SHIM + source, "saved_by": saver, "loaded_by": r["cell_id"], "text": shim,
                            "shim": shim})  # fmt: skip
    return pd.DataFrame(records, columns=COLUMNS)


COLUMNS = ["source", "saved_by", "loaded_by", "text", "shim"]


def current(rows: list[dict[str, Any]], matrix: Matrix, upgrade: Scenario) -> list[dict[str, Any]]:
    """The current upgrade rows of the matrix's cells."""
    cells = {c.id: c for c in matrix.cells}
    out = []
    for r in rows:
        if r["scenario"] != upgrade.id or r["cell_id"] not in cells:
            continue
        saver = cells.get(r["params"]["saved_by"])
        if saver is not None and fresh.current(r, cells[r["cell_id"]], upgrade, saver):
            out.append(r)
    return out


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
            shim = df[df["source"] == f"{SHIM}{SEED}/list:{fmt}"].set_index(["saved_by", "loaded_by"])["text"]
            fixed = sum(shim.get((r.saved_by, r.loaded_by)) == "ok" for r in pairs)
            out.append(
                f"A list `mask_value` does {'not ' if ok == 0 else ''}carry a Keras 2 `{fmt}` file into Keras 3: "
                f"{ok} of {len(pairs)} (Keras 2 or tf-keras file, Keras 3 loader) pairs load and predict the same"
                + (f"; the others: {fails}" if fails else "")
                + f". Rewritten for the loading release by the shim route (`repair --for`), {fixed} of {len(pairs)} do."
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


ZOO = "zoo/"


def _all_ok(cell: str) -> bool:
    ok, _, n = cell.partition("/")
    return bool(n) and ok == n and n != "0"


def shim_table(tries: pd.DataFrame) -> pd.DataFrame:
    """Per cause of the files as saved: how many failing (file, loading cell) entries the shim route was tried on,
    how many it made load and predict the same, and how the rest end."""
    records = []
    for cause, grp in tries.groupby("cause", sort=False):
        rest = grp.loc[grp["text"] != "ok", "text"].value_counts()
        records.append({
            "cause as saved": f"`{cause}`", "tried": len(grp), "ok with the shim": int((grp["text"] == "ok").sum()),
            "the rest": ", ".join(f"{n} `{t}`" for t, n in rest.head(3).items()) or "—",
        })  # fmt: skip
    out = pd.DataFrame(records, columns=["cause as saved", "tried", "ok with the shim", "the rest"])
    return out.sort_values(["ok with the shim", "tried"], ascending=False).reset_index(drop=True)


def what_to_do(df: pd.DataFrame, matrix: Matrix) -> pd.DataFrame:
    """Per kind of file and kind of upgrade: over the failing pairs of different cells, how many each route carries
    (the first of FIX_ORDER that works for the pair by the rows) and how many none does."""
    cells = {c.id: c for c in matrix.cells}
    found = fixes(df)
    tally: dict[str, dict[str, dict[str, int]]] = {}
    for s, ld, src, text in zip(df["saved_by"], df["loaded_by"], df["source"], df["text"], strict=True):
        if text == "ok" or text in ("not saved", "file missing") or src.startswith(SHIM):
            continue
        kind = transition(cells[s], cells[ld])
        if kind is None:
            continue
        by_route = tally.setdefault(src, {}).setdefault(kind, {})
        route = found.get((s, ld, src), "none")
        by_route[route] = by_route.get(route, 0) + 1
    records = []
    for src, kinds in tally.items():
        rec = {"kind of file": file_kind(src)}
        for kind in TRANSITIONS:
            counts = kinds.get(kind)
            if not counts:
                rec[kind] = "—"
                continue
            n = sum(counts.values())
            carried = sorted(((r, k) for r, k in counts.items() if r != "none"), key=lambda x: -x[1])
            text = ", ".join(f"`{r}` {k}" for r, k in carried) or "no route"
            rec[kind] = f"{text} of {n} failing" + (f"; {counts['none']} none" if carried and "none" in counts else "")
        records.append(rec)
    return pd.DataFrame(records, columns=["kind of file", *TRANSITIONS])


def shim_sentence(tries: pd.DataFrame) -> str | None:
    """The shim route over every failing entry of a whole-model file, in one sentence."""
    if tries.empty:
        return None
    ok = int((tries["text"] == "ok").sum())
    fixed = tries[tries["text"] == "ok"]["cause"].value_counts()
    return (
        f"The shim route (`nox -s repair -- --for RELEASE IN OUT`: the file rewritten for the loading release) was "
        f"tried on all {len(tries)} failing (whole-model file, loading cell) entries: {ok} load and predict the same "
        "— " + ", ".join(f"{n} `{c}`" for c, n in fixed.items()) + " as saved."
    )


def counts(df: pd.DataFrame) -> dict[str, int]:
    """How many (saving cell, case, loading cell) entries have each text, for the summary line."""
    return {str(k): int(v) for k, v in df["text"].value_counts().items()}


def detail_page(df: pd.DataFrame, matrix: Matrix, scens: list[Scenario], machine_id: str,
                tries: pd.DataFrame | None = None) -> str:  # fmt: skip
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
    todo = what_to_do(df[~df["source"].str.startswith(ZOO)], matrix)
    if not todo.empty:
        out += [
            "## What to do, by kind of file",
            "",
            "For each kind of file and kind of upgrade: the pairs of different cells where the file fails as "
            "saved, and the route that carries it there by these rows (the first that works, in this order: "
            "routes that work on the file you have, then routes that save it again). What to do for each:",
            "",
        ]
        out += [f"- `{route}`: {ROUTE_HOW[route]}" for route in FIX_ORDER]
        out += ["", "The site's upgrade lookup gives the route for each file of one (saving, loading) pair.", "",
                str(todo.to_markdown(index=False)), ""]  # fmt: skip
    if tries is not None and not tries.empty:
        out += ["## The shim route over every failing file", "", shim_sentence(tries) or "",
                "Where a whole-model file (`.keras` or `.h5`, saved as is) fails to load or predict, the loading "
                "cell rewrites it with the shim (tagged values made plain, refused arguments dropped where they hold "
                "their default: [`causes/shim.toml`](../causes/shim.toml)) and loads, predicts and compares the "
                "copy the same way. By the cause the file failed with as saved:", "",
                str(shim_table(tries).to_markdown(index=False)), "",
                f"The tables below that start with `{SHIM}` give the seed's and the list route's files through the "
                "shim, pair by pair.", ""]  # fmt: skip
    order = {caseids.key(s.id, c.case_id): i for i, (s, c) in enumerate((s, c) for s in scens for c in s.cases())}
    shown = set(df["source"]) - set(df.loc[df["source"].str.startswith(ZOO), "source"])  # the zoo: a page of its own
    for source in sorted(shown, key=lambda k: (k.startswith(SHIM), order.get(k.removeprefix(SHIM), len(order)), k)):
        out += [f"## `{source}`", "", table(df[df["source"] == source], matrix), ""]
    return "\n".join(out)


def page(view: View, scen: Scenario, pages: Pages, plots: Path, sigs: dict[str, int]) -> str | None:
    """The machine's upgrade-paths page (None where it loaded nothing); its frame is left for the answers."""
    df = frame(view.rows, view.shown, scen)
    if df.empty:
        return None
    tries = shim_tries(current(view.rows, view.shown, scen))
    view.frames[scen.handler] = df
    view.frames[scen.handler + ":shim"] = tries
    return detail_page(df, view.shown, view.scens, view.machine_id, tries)


def summarize(out: dict[str, Any], view: View, scen: Scenario, sources: dict[str, int]) -> None:
    """Every (saving, loading) pair of the machine in the summary, its sources numbered across machines: the files'
    entries, the shim route's entries for SHIM_SOURCES apart (`shim`), and the fix for each failing file."""
    df = frame(view.rows, view.shown, scen)
    found = fixes(df)
    out["upgrade"].setdefault("routes", ROUTE_HOW)
    tries = shim_tries(current(view.rows, view.shown, scen))
    for cause, grp in tries.groupby("cause", sort=True):
        out["upgrade"].setdefault("shim_tries", []).append(
            {"machine": view.machine_id, "cause": str(cause), "tried": len(grp), "ok": int((grp["text"] == "ok").sum())}
        )
    for (saver, loader), grp in df.groupby(["saved_by", "loaded_by"], sort=False):
        by_text: dict[str, list[int]] = {}
        shim: dict[str, list[int]] = {}
        fix: dict[str, str] = {}
        for src, text in zip(grp["source"], grp["text"], strict=True):
            idx = sources.setdefault(str(src), len(sources))
            (shim if str(src).startswith(SHIM) else by_text).setdefault(str(text), []).append(idx)
            route = found.get((str(saver), str(loader), str(src)))
            if route:
                fix[str(idx)] = route
        out["upgrade"]["pairs"].append(
            {"machine": view.machine_id, "saved_by": str(saver), "loaded_by": str(loader), "entries": by_text,
             "shim": shim, "fix": fix}
        )  # fmt: skip


# What to do where a route works, by route: the command or the change, with RELEASE the loading release.
ROUTE_HOW = {
    "shim": "rewrite the file for the loading release: `nox -s repair -- --for RELEASE IN OUT`, then load OUT there",
    "repair": "rewrite the file's tagged values as plain ones: `nox -s repair -- IN OUT`, then load OUT",
    "custom-objects": "load it with `custom_objects={'Masking': <a Masking whose from_config untags mask_value>}`",
    "list": "save it again with `mask_value` given as a Python list",
    "custom-layer": "save it again with a Masking subclass whose config holds the mask as a list",
    "savedmodel": "export a SavedModel in the saving release and load it with `keras.layers.TFSMLayer`",
    "weights-only": "save the weights only and load them into the model built by your code",
}
# The routes tried for a failing file, in order: those that work on the file you have, then those that save again.
FIX_ORDER = ("shim", "repair", "custom-objects", "list", "custom-layer", "savedmodel", "weights-only")


def fixes(df: pd.DataFrame) -> dict[tuple[str, str, str], str]:
    """For each failing (saving cell, loading cell, file): the first route of FIX_ORDER that works for that pair by
    the rows — the shim on that very file; for a Masking -> LSTM file, a workaround's file of the same mask first."""
    ok = {(s, ld, src) for s, ld, src, t in zip(df["saved_by"], df["loaded_by"], df["source"], df["text"], strict=True)
          if t == "ok"}  # fmt: skip
    out: dict[tuple[str, str, str], str] = {}
    for s, ld, src, text, shim in zip(df["saved_by"], df["loaded_by"], df["source"], df["text"], df["shim"],
                                      strict=True):  # fmt: skip
        if text == "ok" or text in ("not saved", "file missing") or src.startswith(SHIM):
            continue
        if shim == "ok":
            out[(s, ld, src)] = "shim"
            continue
        if not src.startswith((*SHIM_SOURCES, "workarounds/")):
            continue
        mask = "float32" if "float32" in src else "float64"
        for route in FIX_ORDER[1:]:
            files = sorted(ROUTE_FILES[route], key=lambda f: mask not in f)  # the same mask's file first
            if any((s, ld, f) in ok for f in files):
                out[(s, ld, src)] = route
                break
    return out


MASKS = {"float": "a float `mask_value`", "list": "a list `mask_value`", "numpy": "a NumPy `mask_value`",
         "tensor-float64": "a float64 tensor `mask_value`", "tensor-float32": "a float32 tensor `mask_value`",
         "tensor": "a tensor value", "numpy-value": "a NumPy value"}  # fmt: skip
RNNS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN", "bilstm": "Bidirectional(LSTM)"}
OBJECTS = {"rescaling": "Rescaling", "normalization": "Normalization", "constant": "a Constant initializer",
           "discretization": "Discretization", "integer-lookup": "IntegerLookup", "string-lookup": "StringLookup",
           "embedding": "Embedding"}  # fmt: skip


def file_kind(source: str) -> str:
    """A saved file's kind in a user's words, e.g. "Masking → LSTM, a float64 tensor `mask_value`, `.keras`"."""
    if source.startswith(SHIM):
        return file_kind(source.removeprefix(SHIM)) + ", through the shim"
    scen, _, case = source.partition("/")
    parts = case.split(":")
    fmt = f"`{parts[1]}`" if scen == "zoo" and parts[1] != "savedmodel" else f"`{parts[-1]}`"
    fmt = "a SavedModel" if "savedmodel" in parts[1:] else fmt
    if scen == "zoo":
        return f"{ZOO_NAMES.get(parts[0], parts[0])}, {fmt}"
    if scen == "masking-lstm" and len(parts) == 2:
        return f"Masking → LSTM, {MASKS.get(parts[0], parts[0])}, {fmt}"
    if scen == "workarounds" and len(parts) == 3:
        return f"Masking → LSTM, {MASKS.get(parts[1], parts[1])}, saved by the `{parts[0]}` route, {fmt}"
    if scen == "rnn-breadth" and len(parts) == 5:
        rnn, outputs, padding, mask = parts[:4]
        return f"Masking → {RNNS.get(rnn, rnn)} ({outputs} output, {padding}-padding), {MASKS.get(mask, mask)}, {fmt}"
    if scen == "beyond-masking" and len(parts) == 3:
        value = "a tensor" if parts[1] == "tensor" else "a NumPy array"
        return f"{OBJECTS.get(parts[0], parts[0])} built from {value}, {fmt}"
    return f"`{source}`"
