"""The zoo's files across releases (`scenarios/zoo.toml`): per kind and format, how they load by kind of upgrade,
and per kind the releases that load what each release saved, with a pip constraint over the tested releases."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.decl.cells import Cell, Matrix
from harness.readers.model import TRANSITIONS, cell_order, label, runs_label
from harness.readers.sections.upgrade_paths import ZOO, collapse, transition

ZOO_PAGE = "upgrade-zoo"


def zoo_kinds(df: pd.DataFrame, matrix: Matrix, fmt: str = ".keras") -> pd.DataFrame:
    """Per zoo kind, one format: `ok k/n` of its files in the cell that saved them and per kind of upgrade (pairs of
    different cells whose file was saved)."""
    cells = {c.id: c for c in matrix.cells}
    sub = df[df["source"].str.startswith(ZOO) & df["source"].str.contains(f":{fmt}", regex=False)
             & (df["text"] != "not saved")]  # fmt: skip
    records = []
    for source, grp in sub.groupby("source", sort=False):
        rec: dict[str, Any] = {"kind of model": f"`{zoo_kind(str(source))}`"}
        tally: dict[str, list[int]] = {}
        for s, ld, text in zip(grp["saved_by"], grp["loaded_by"], grp["text"], strict=True):
            kind = "same cell" if s == ld else transition(cells[s], cells[ld])
            if kind:
                ok_n = tally.setdefault(kind, [0, 0])
                ok_n[0] += int(text == "ok")
                ok_n[1] += 1
        for kind in ("same cell", *TRANSITIONS):
            if kind != "Keras 3 → same Keras 3":
                rec[kind] = f"{tally[kind][0]}/{tally[kind][1]}" if kind in tally else "—"
        records.append(rec)
    return pd.DataFrame(records)


def zoo_kind(source: str) -> str:
    """`zoo/cnn:.keras` -> `cnn`."""
    return source.removeprefix(ZOO).split(":", 1)[0]


def pip_ranges(loaders: list[Cell], ok: set[str]) -> str:
    """The Keras 3 releases among the loaders that load a file, as pip constraints over the tested releases, e.g.
    `keras>=3.9.2,<=3.15.1`; runs are cut where a tested release between them does not load it."""
    from packaging.version import Version

    by_version: dict[str, bool] = {}
    for c in loaders:
        if c.flavor == "keras3" and c.keras:
            by_version[c.keras] = by_version.get(c.keras, True) and c.id in ok
    runs: list[list[str]] = []
    current: list[str] = []
    for v in sorted(by_version, key=Version):
        if by_version[v]:
            current.append(v)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return " or ".join(f"`keras=={r[0]}`" if len(r) == 1 else f"`keras>={r[0]},<={r[-1]}`" for r in runs) or "none"


def page(df: pd.DataFrame, matrix: Matrix, machine_id: str) -> str:
    """The zoo's files across releases: per kind, which releases load what each saving release wrote."""
    cells = {c.id: c for c in matrix.cells}
    out = [f"# Will this kind of file load there? (`zoo`, `{machine_id}`)", ""]
    out.append(
        "Every kind of model of the zoo (`scenarios/zoo.toml`, built by `harness/child/zoo.py`), saved by every "
        "default cell in every format it offers and loaded by every default cell (Keras 3 with safe mode on), "
        "compared with the saving cell's outputs. `same cell`: loaded where it was saved; the other columns: pairs "
        "of different cells by kind of upgrade (report.md's glossary). Generated from `results/` by `nox -s report`."
    )
    for fmt in (".keras", ".h5", ".weights.h5", "savedmodel"):
        table = zoo_kinds(df, matrix, fmt)
        if not table.empty:
            out += ["", f"## `{fmt}`", "", str(table.to_markdown(index=False))]
    out += ["", "## Per kind: the releases that load what each release saved (`.keras`)", ""]
    out.append(
        "Saving cells that every loading cell treats alike are one line; `keras>=A,<=B` is the Keras 3 releases "
        "among the tested ones that load the file and predict the same (a constraint for pip)."
    )
    loaders = sorted({cells[str(ld)] for ld in df["loaded_by"]}, key=cell_order)
    for source in sorted(set(df["source"])):
        if not source.endswith(":.keras"):
            continue
        rows, cols, grid = collapse(df[df["source"] == source], matrix)
        out += ["", f"### {zoo_kind(source)}", ""]
        for run, line in zip(rows, grid, strict=True):
            if all(t == "not saved" for t in line):
                out.append(f"- saved by {label(run)}: not saved (fails at build or save there)")
                continue
            good = [c for col, t in zip(cols, line, strict=True) if t == "ok" for c in col]
            bad = sorted({t for t in line if t not in ("ok", "not saved")})
            out.append(
                f"- saved by {label(run)}: loads and predicts the same on {runs_label(good)}; as a constraint: "
                f"{pip_ranges(loaders, {c.id for c in good})}"
                + (f"; elsewhere: {', '.join(f'`{t}`' for t in bad)}" if bad else "")
            )
    return "\n".join(out) + "\n"
