"""The cross-load section: the four-cell set as saved-by x loaded-by tables, one per format and mask value."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.decl import caseids
from harness.decl.scenarios import Scenario
from harness.readers.model import Entry, View
from harness.readers.pages import Pages

GRID = True  # its cases are entries of the machine's grid (and listed in the summary)
LISTED = True
APART = False


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


def page(view: View, scen: Scenario, pages: Pages, plots: Path, sigs: dict[str, int]) -> str | None:
    """The set's page on the machine (None where the machine did not run it)."""
    if scen.id not in view.ran:
        return None
    return crossload_page(scen, view.grid, pages)
