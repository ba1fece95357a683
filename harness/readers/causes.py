"""Why rows fail, counted: each catalog cause with its sentence, its rows, the cells it is seen in (the loading cell
where another cell saved the file, and that saving cell) and where upstream tells of it; the share explained."""

from __future__ import annotations

from typing import Any

import pandas as pd

from harness.decl import causes as catalog
from harness.decl.cells import Matrix
from harness.decl.scenarios import Scenario
from harness.readers.model import cause_of, cell_order, runs_label
from harness.store import fresh

COLUMNS = ["cause", "sentence", "upstream", "rows", "scenarios", "cells", "saved_by"]


def failing(rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]) -> pd.DataFrame:
    """One record per current failing row of a shown cell (as the tables show it): its cause, scenario, cell and
    the cell that saved its file."""
    cells = {c.id: c for c in matrix.cells}
    by_id = {s.id: s for s in scens}
    records = []
    for r in rows:
        cell, scen = cells.get(r["cell_id"]), by_id.get(r["scenario"])
        if r.get("outcome") not in catalog.FAILING or cell is None or scen is None:
            continue
        saver = cells.get(_saver(r) or "")
        if fresh.current(r, cell, scen, saver):
            records.append({"cause": cause_of(r), "scenario": r["scenario"], "cell_id": cell.id, "saved_by": _saver(r)})
    return pd.DataFrame(records, columns=["cause", "scenario", "cell_id", "saved_by"])


def _saver(row: dict[str, Any]) -> str | None:
    return (row.get("params") or {}).get("saved_by")


def releases(ids: set[str], matrix: Matrix) -> str:
    """Cells in version order, each family's as one range (`model.runs_label`)."""
    return runs_label(sorted((c for c in matrix.cells if c.id in ids), key=cell_order))


def table(rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]) -> pd.DataFrame:
    """Per cause, in the catalog's order and then `unexplained`: its sentence, rows and the releases it is seen on."""
    df = failing(rows, matrix, scens)
    out = []
    order = [*catalog.load(), None]
    for cause in order:
        cid = cause.id if cause else catalog.UNEXPLAINED
        sub = df[df["cause"] == cid]
        if sub.empty:
            continue
        savers = {str(s) for s in sub["saved_by"].dropna()}
        out.append(
            {
                "cause": cid,
                "sentence": cause.sentence if cause else "no cause of the catalog fits the error",
                "upstream": (cause.upstream if cause else None) or "",
                "rows": len(sub),
                "scenarios": ", ".join(sorted(set(sub["scenario"]))),
                "cells": releases(set(sub["cell_id"]), matrix),
                "saved_by": releases(savers, matrix) if savers else "",
            }
        )
    return pd.DataFrame(out, columns=COLUMNS)


def explained(table_: pd.DataFrame) -> tuple[int, int]:
    """(failing rows with a cause other than `unexplained`, failing rows) of a `table`."""
    total = int(table_["rows"].sum())
    return total - int(table_.loc[table_["cause"] == catalog.UNEXPLAINED, "rows"].sum()), total
