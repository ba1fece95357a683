"""The zoo's files across releases (`scenarios/zoo.toml`): per kind and format, how they load by kind of upgrade,
and per kind the releases that load what each release saved, with a pip constraint over the tested releases."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.decl import zoo_match
from harness.decl.cells import Cell, Matrix
from harness.decl.scenarios import Scenario
from harness.readers.model import TRANSITIONS, cell_order, family, is_current, label, runs_label
from harness.readers.sections.upgrade_paths import ZOO, collapse, ok_loaders, transition

ZOO_PAGE = "upgrade-zoo"
ZOO_SCENARIO = "zoo"


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


PACKAGES = {"keras3": ("keras", "keras"), "keras2": ("tensorflow", "tensorflow"), "tf_keras": ("tf-keras", "tf_keras")}


def pip_ranges(loaders: list[Cell], ok: set[str], flavor: str = "keras3") -> str:
    """The releases of one family among the loaders that load a file, as pip constraints over the tested releases,
    e.g. `keras>=3.9.2,<=3.15.1`; runs are cut where a tested release between them does not load it (a release
    loads it where every tested cell of it does; Keras 3 on the tensorflow backend, the other backends apart)."""
    from packaging.version import Version

    package, attr = PACKAGES[flavor]
    by_version: dict[str, bool] = {}
    for c in loaders:
        version = getattr(c, attr)
        if c.flavor == flavor and version and c.backend == "tensorflow":
            by_version[version] = by_version.get(version, True) and c.id in ok
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
    return (
        " or ".join(f"`{package}=={r[0]}`" if len(r) == 1 else f"`{package}>={r[0]},<={r[-1]}`" for r in runs) or "none"
    )


def loads_on(loaders: list[Cell], ok: set[str]) -> str:
    """Every family's releases that load a file, as pip constraints (Keras 2 by its TensorFlow release), and the
    Keras 3 backends where it does not."""
    parts = [pip_ranges(loaders, ok, f) for f in ("keras2", "tf_keras", "keras3")]
    text = ", ".join(p for p in parts if p != "none") or "none"
    others = sorted(
        {c.backend for c in loaders if c.flavor == "keras3" and c.backend != "tensorflow" and c.id not in ok}
    )
    return text + (f" (not on {', '.join(others)})" if others and parts[2] != "none"
                   else "")  # fmt: skip


def newest(matrix: Matrix, flavor: str) -> Cell | None:
    """The newest release of a family on the tensorflow backend (the last in cell order, off the Python axis)."""
    found = [c for c in sorted(matrix.cells, key=cell_order)
             if c.flavor == flavor and c.backend == "tensorflow" and "python-axis" not in c.roles]  # fmt: skip
    return found[-1] if found else None


def caniuse(df: pd.DataFrame, matrix: Matrix, fmt: str = ".keras") -> pd.DataFrame:
    """Per kind: the releases that load and predict the same what the newest Keras 2 and the newest Keras 3 saved,
    as pip constraints, then its first broken and first fixed Keras 3 release with the causes."""
    cells = {c.id: c for c in matrix.cells}
    loaders = sorted({cells[str(ld)] for ld in df["loaded_by"]}, key=cell_order)
    savers = [c for c in (newest(matrix, "keras2"), newest(matrix, "keras3")) if c is not None]
    marks = milestones(df, matrix, fmt).set_index("kind of model") if not df.empty else pd.DataFrame()
    records = []
    for source in sorted({s for s in df["source"] if s.startswith(ZOO) and s.endswith(f":{fmt}")}):
        kind = f"`{zoo_kind(source)}`"
        rec: dict[str, Any] = {"kind of model": kind}
        for saver in savers:
            sub = df[(df["source"] == source) & (df["saved_by"] == saver.id)]
            saved = not sub.empty and (sub["text"] != "not saved").all()
            rec[f"a Keras {version_of(saver)} file loads on"] = (
                loads_on(loaders, set(sub.loc[sub["text"] == "ok", "loaded_by"])) if saved else "not saved there"
            )
        if kind in marks.index:
            rec.update({str(k): v for k, v in marks.loc[kind].to_dict().items()})
        records.append(rec)
    return pd.DataFrame(records)


Static = dict[tuple[str, str], list[str]]  # (saving cell, source) -> the kinds check's static pass reads its file as


def static_kinds(rows: list[dict[str, Any]], matrix: Matrix, scen: Scenario | None) -> Static:
    """What each zoo file reads as from its config alone, as its case row recorded it (current rows only)."""
    cells = {c.id: c for c in matrix.cells}
    out: Static = {}
    for r in rows:
        kinds = (r.get("details") or {}).get("static_kinds")
        cell = cells.get(r.get("cell_id", ""))
        if (
            scen is None
            or r.get("scenario") != scen.id
            or kinds is None
            or cell is None
            or not is_current(r, cell, scen)
        ):
            continue
        out[(cell.id, f"{ZOO}{r['case_id']}")] = list(kinds)
    return out


def version_of(cell: Cell) -> str:
    """The Keras version a file saved in this cell records (what `check` reads from it)."""
    return str(cell.keras or cell.tf_keras or "")


def quoted(
    df: pd.DataFrame, kind: str, fmt: str, version: str, matrix: Matrix
) -> tuple[list[Cell], list[Cell], list[Cell]]:
    """What `check` quotes for a file of this kind and format saved by this Keras version: the saving cells of that
    version, the loaders where all their files load and predict the same, and the rest."""
    sub = df[(df["source"] == f"{ZOO}{kind}:{fmt}") & (df["text"] != "not saved")]
    savers = [
        c for c in sorted(matrix.cells, key=cell_order) if version_of(c) == version and c.id in set(sub["saved_by"])
    ]
    if not savers:
        return [], [], []
    good, bad = ok_loaders(sub, savers, matrix)
    return savers, good, bad


def agreement(df: pd.DataFrame, static: Static, matrix: Matrix) -> pd.DataFrame:
    """Per target family: how often `check`'s static prediction for a zoo file (the rows of the kinds its config
    reads as, for files of its Keras version) agrees with loading that very file there."""
    cells = {c.id: c for c in matrix.cells}
    sub = df[df["source"].str.startswith(ZOO) & (df["text"] != "not saved")]
    cache: dict[tuple[str, str, str], tuple[set[str], set[str]]] = {}
    tally: dict[str, list[int]] = {}
    for source, saver, loader, text in zip(sub["source"], sub["saved_by"], sub["loaded_by"], sub["text"], strict=True):
        kinds = static.get((str(saver), str(source)))
        if kinds is None:  # weights and SavedModels: no config to read
            continue
        fmt, version = str(source).rsplit(":", 1)[1], version_of(cells[str(saver)])
        verdicts = []
        for kind in kinds[: zoo_match.QUOTED]:
            key = (kind, fmt, version)
            if key not in cache:
                _, good, bad = quoted(df, kind, fmt, version, matrix)
                cache[key] = {c.id for c in good}, {c.id for c in bad}
            good_ids, bad_ids = cache[key]
            if loader in good_ids or loader in bad_ids:
                verdicts.append(loader in good_ids)
        fam = family(cells[str(loader)])
        t = tally.setdefault(fam, [0, 0, 0])
        t[0] += 1
        if verdicts:
            t[1] += 1
            t[2] += int(all(verdicts) == (text == "ok"))
    order = {family(c): cell_order(c) for c in sorted(matrix.cells, key=cell_order, reverse=True)}
    records = [
        {"target family": fam, "files × loaders": n, "predicted": p, "agree": a, "share": a / p if p else 0.0}
        for fam, (n, p, a) in sorted(tally.items(), key=lambda kv: order.get(kv[0], ()))
    ]
    return pd.DataFrame(records)


def agreement_line(table: pd.DataFrame) -> str:
    """The agreement in one sentence: overall, then per target family."""
    if table.empty:
        return ""
    agree, predicted = int(table["agree"].sum()), int(table["predicted"].sum())
    per = ", ".join(f"{r['target family']} {r['share']:.1%}" for _, r in table.iterrows())
    return (
        f"`check` reads a file's kinds from its config alone and quotes those kinds' rows; over the zoo's own "
        f"`.keras` and `.h5` files that prediction agrees with loading the file in {agree:,} of {predicted:,} "
        f"(file, loading cell) pairs ({agree / predicted:.1%}; per target family: {per})."
    )


def line_of(matrix: Matrix) -> list[Cell]:
    """The Keras 3 releases in order, one cell each (the tensorflow backend, newest TensorFlow, no Python axis)."""
    best: dict[str, Cell] = {}
    for c in sorted(matrix.cells, key=cell_order):
        if c.flavor == "keras3" and c.backend == "tensorflow" and c.keras and "python-axis" not in c.roles:
            best[c.keras] = c  # cell order puts the newest TensorFlow last
    return sorted(best.values(), key=cell_order)


def milestones(df: pd.DataFrame, matrix: Matrix, fmt: str = ".keras") -> pd.DataFrame:
    """Per kind, along the Keras 3 releases: the first where its file breaks (its own round trip, or the previous
    release's file, fails) and the first after that where both work again, with the causes where it broke."""
    line = line_of(matrix)
    grid = {(str(s), str(src), str(ld)): str(t) for src, s, ld, t in
            zip(df["source"], df["saved_by"], df["loaded_by"], df["text"], strict=True)}  # fmt: skip
    records = []
    for source in sorted({s for s in df["source"] if s.startswith(ZOO) and s.endswith(f":{fmt}")}):
        broken, fixed, causes = None, None, []
        for i, cell in enumerate(line):
            texts = [grid.get((cell.id, source, cell.id), "")]
            if i:
                texts.append(grid.get((line[i - 1].id, source, cell.id), ""))
            bad = [t for t in texts if t not in ("ok", "not saved", "")]
            if bad and broken is None:
                broken, causes = cell, sorted({t.split(" · ")[-1] if " · " in t else t for t in bad})
            elif not bad and broken is not None and fixed is None:
                fixed = cell
        records.append({
            "kind of model": f"`{zoo_kind(source)}`",
            "first broken": f"Keras {broken.keras}" if broken else "never",
            "cause": ", ".join(f"`{c}`" for c in causes) or "—",
            "first fixed": f"Keras {fixed.keras}" if fixed else ("not yet" if broken else "—"),
        })  # fmt: skip
    return pd.DataFrame(records)


def page(df: pd.DataFrame, matrix: Matrix, machine_id: str, static: Static | None = None) -> str:
    """The zoo's files across releases: per kind, which releases load what each saving release wrote."""
    cells = {c.id: c for c in matrix.cells}
    out = [f"# Will this kind of file load there? (`zoo`, `{machine_id}`)", ""]
    out.append(
        "Every kind of model of the zoo (`scenarios/zoo.toml`, built by `harness/child/zoo.py`), saved by every "
        "default cell in every format it offers and loaded by every default cell (Keras 3 with safe mode on), "
        "compared with the saving cell's outputs (the compiled model: one training step's loss and weights). "
        "Generated from `results/` by `nox -s report`."
    )
    for fmt in (".keras", ".h5"):
        table = caniuse(df, matrix, fmt)
        if not table.empty:
            out += ["", f"## At a glance: `{fmt}`", ""]
            out.append(
                "Per kind, the releases that load what the newest Keras 2 and the newest Keras 3 saved and predict the "
                "same, as pip constraints over the tested releases (Keras 2 by its TensorFlow release, Keras 3 on the "
                "tensorflow backend, the other backends named where they do not load it); then along "
                "the Keras 3 releases (tensorflow backend), the first where the kind breaks (its own round trip or "
                "the previous release's file fails there), the causes, and the first where both work again."
            )
            out += ["", str(table.to_markdown(index=False))]
    agree = agreement(df, static or {}, matrix)
    if not agree.empty:
        out += ["", "## Does `check`'s static reading predict what loading does?", "", agreement_line(agree)]
        out.append(
            "A prediction: the rows of the kinds (up to three) the file's config reads as, for files of its saving "
            "Keras version (`harness/decl/zoo_match.py`, the function `check` uses); it predicts `loads` where every "
            "such kind's files load and predict the same there. A pair counts where some kind's rows speak for the "
            "loading cell."
        )
        out += ["", str(agree.to_markdown(index=False, floatfmt=".1%"))]
    out += ["", "## By kind of upgrade", ""]
    out.append(
        "`same cell`: loaded where it was saved; the other columns: pairs of different cells by kind of upgrade "
        "(report.md's glossary), `ok`/pairs."
    )
    for fmt in (".keras", ".h5", ".weights.h5", "savedmodel"):
        table = zoo_kinds(df, matrix, fmt)
        if not table.empty:
            out += ["", f"### `{fmt}`", "", str(table.to_markdown(index=False))]
    out += ["", "## Per kind: the releases that load what each release saved (`.keras`)", ""]
    out.append(
        "Saving cells that every loading cell treats alike are one line; the constraints are the tested releases of "
        "each family that load the file and predict the same (for pip)."
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
                f"- saved by {label(run)}: loads and predicts the same on {runs_label(good)}; as constraints: "
                f"{loads_on(loaders, {c.id for c in good})}"
                + (f"; elsewhere: {', '.join(f'`{t}`' for t in bad)}" if bad else "")
            )
    return "\n".join(out) + "\n"
