"""Whether a stored row speaks for the current declarations: the one place that answers "is this current?".

A row is current while its cell's pins (`cell_hash`), its scenario's declaration (`scenario_hash`, data
only) and the declared version of the handler that measured it (`measured_by`) are unchanged; a
cross-load row also needs its saving cell's pins unchanged. A comment or a refactor stales nothing.
A current row is still measured again when its install failed or its timing is unfinished. Latency rows
are also measured again on a machine whose speed differs from the one that timed them (`speed_reason`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness.decl.cells import Cell
from harness.decl.scenarios import Case, Scenario
from harness.store import rowfiles

SPEED_TOLERANCE = 0.25  # a reference loop this much faster or slower: another machine state, latency re-timed


def stale_reason(row: dict[str, Any], cell: Cell, scen: Scenario, source: Cell | None = None) -> str | None:
    """Why the row does not speak for the current cell and scenario (None when it does)."""
    if row["cell_hash"] != cell.hash:
        return "the cell's pins changed"
    if row["scenario_hash"] != scen.hash:
        return "the scenario's declaration changed"
    if row.get("measured_by") != scen.measured_by:
        return f"measured by {row.get('measured_by') or 'an older harness (results schema 1)'}, now {scen.measured_by}"
    if "saved_by" in row["params"] and (source is None or row.get("saved_by_hash") != source.hash):
        return "the saving cell's pins changed"
    return None


def current(row: dict[str, Any], cell: Cell, scen: Scenario, source: Cell | None = None) -> bool:
    """Whether the row speaks for the current declarations."""
    return stale_reason(row, cell, scen, source) is None


def rerun_reason(row: dict[str, Any] | None, cell: Cell, scen: Scenario, source: Cell | None = None) -> str | None:
    """Why a run should measure this case again: no row, a stale one, a failed install or unfinished timing."""
    if row is None:
        return "no row"
    why = stale_reason(row, cell, scen, source)
    if why:
        return why
    if row["failed_stage"] == "install":
        return "its install failed"
    if row.get("complete") is False:
        return "its timing is unfinished"
    return None


def rows_by_case(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(scenario, case) -> the stored row of one cell file (empty when there is none)."""
    return {(r["scenario"], r["case_id"]): r for r in rowfiles.read_file(path, older=True)} if path.exists() else {}


def to_run(
    path: Path, cell: Cell, cases: list[Case], scens: dict[str, Scenario], cells: dict[str, Cell] | None = None
) -> list[Case]:
    """The cases of the cell file that a run must measure again (`cells`: where cross-load sources are found)."""
    rows = rows_by_case(path)
    out = []
    for case in cases:
        row = rows.get((case.scenario, case.case_id))
        source = (cells or {}).get(case.params.get("saved_by", ""))
        if rerun_reason(row, cell, scens[case.scenario], source) is not None:
            out.append(case)
    return out


def speed_reason(recorded_s: float | None, now_s: float | None) -> str | None:
    """Why latency timed at reference speed `recorded_s` does not speak for a machine now at `now_s` (None: it does).

    Both are the same reference loop's fast-state seconds in the same Python version. Beyond the tolerance
    the machine is in another state (another VM kind, another load): its latency must be timed again.
    """
    if recorded_s is None or now_s is None or recorded_s <= 0 or now_s <= 0:
        return None
    change = now_s / recorded_s
    if abs(math.log(change)) <= math.log1p(SPEED_TOLERANCE):
        return None
    word = "faster" if change < 1 else "slower"
    return (
        f"this machine runs the reference loop {abs(1 / change - 1) if change < 1 else change - 1:.0%} {word} "
        f"than when these rows were timed ({now_s * 1e3:.2f} ms now, {recorded_s * 1e3:.2f} ms then)"
    )
