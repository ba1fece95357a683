"""Merge results folders from many machines or CI jobs into one, never silently losing a row.

Rows are keyed by (machine folder, cell file, scenario, case). A row must belong where it goes: the machine
folder is the row's own machine, and its scenario's handler version is the declared one (pyperf checks a run's
metadata before it merges it); the schema is checked as every file is read. A key new to the destination is added;
an identical row is a no-op; two different rows for one key are a conflict: without `newer_wins`
the merge stops before writing anything and names every conflict; with it, the row measured later
(`started_at`) stays and each replaced row is listed. Every file is rewritten atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.store import rowfiles


@dataclass
class Summary:
    """What a merge did, per kind of row."""

    added: int = 0
    identical: int = 0
    replaced: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    files: int = 0


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return (row["scenario"], row["case_id"])


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def misfit(row: dict[str, Any], folder: str, measured_by: dict[str, str]) -> str | None:
    """Why a row does not belong in a machine folder of results measured by the declared handlers (None: it does)."""
    machine = (row.get("machine") or {}).get("id")
    if machine != folder:
        return f"a row of machine {machine} in the folder of {folder}"
    declared = measured_by.get(row["scenario"])
    if declared is not None and row.get("measured_by") != declared:
        return f"measured by {row.get('measured_by')}, where the {row['scenario']} scenario declares {declared}"
    return None


def merge(
    sources: list[Path],
    into: Path,
    order: list[tuple[str, str]],
    newer_wins: bool = False,
    only: list[str] | None = None,
    measured_by: dict[str, str] | None = None,
) -> Summary:
    """Fold every `<machine>/<cell>.jsonl` of the sources into the destination folder (`only`: these scenarios;
    `measured_by`: scenario -> the declared handler version its rows must carry)."""
    incoming: dict[Path, list[tuple[Path, dict[str, Any]]]] = {}
    misfits: list[str] = []
    for src in sources:
        if not src.is_dir():
            raise UserError(f"results folder {src} does not exist")
        found = rowfiles.cell_files(src)
        if not found:
            raise UserError(f"{src} holds no <machine>/<cell>.jsonl result files")
        for path in found:
            rel = path.relative_to(src)
            rows = [r for r in rowfiles.read_file(path) if not only or r["scenario"] in only]
            for row in rows:
                why = misfit(row, rel.parts[0], measured_by or {})
                if why:
                    misfits.append(f"{path}: {row['scenario']}/{row['case_id']}: {why}")
            if rows:
                incoming.setdefault(into / rel, []).extend((path, row) for row in rows)
    if misfits:
        shown = "; ".join(misfits[:3]) + (f"; and {len(misfits) - 3} more" if len(misfits) > 3 else "")
        raise UserError(f"{len(misfits)} rows do not belong where they would go (nothing written): {shown}")
    summary = Summary()
    plans: dict[Path, list[dict[str, Any]]] = {}
    conflicts = []
    for dest, new in incoming.items():
        current = {_key(r): r for r in rowfiles.read_file(dest)} if dest.exists() else {}
        changed = False
        for origin, row in new:
            key = _key(row)
            have = current.get(key)
            label = f"{dest.relative_to(into)} {key[0]}/{key[1]} (from {origin})"
            if have is None:
                current[key] = row
                summary.added += 1
                changed = True
            elif _same(have, row):
                summary.identical += 1
            elif not newer_wins:
                conflicts.append(label)
            elif row["started_at"] > have["started_at"]:
                current[key] = row
                summary.replaced.append(f"{label}: {have['started_at']} -> {row['started_at']}")
                changed = True
            else:
                summary.kept.append(f"{label}: kept {have['started_at']} over {row['started_at']}")
        if changed:
            plans[dest] = list(current.values())
    if conflicts:
        shown = "; ".join(conflicts[:5]) + (f"; and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
        raise UserError(f"{len(conflicts)} rows differ from rows already there (nothing written): {shown}; "
                        "pass --newer-wins to keep the later measurement of each")  # fmt: skip
    for dest, merged in plans.items():
        with rowfiles.locked(dest.parent):
            rowfiles.write_rows(dest, merged, order)
        summary.files += 1
    return summary
