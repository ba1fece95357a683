"""Two results folders compared row by row: the same outcome, failing stage and error signature, or not."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import signature
from harness.store import rowfiles

Key = tuple[str, str, str, str]  # machine, cell, scenario, case


@dataclass
class Diff:
    """Rows in both folders, those that differ (with both verdicts), and rows only one folder has."""

    compared: int = 0
    differ: list[tuple[Key, str, str]] = field(default_factory=list)
    only_a: list[Key] = field(default_factory=list)
    only_b: list[Key] = field(default_factory=list)


def verdict(row: dict[str, Any]) -> str:
    """What a row says: `ok`, or the outcome at its stage with the error signature."""
    if row["outcome"] == "ok":
        return "ok"
    return f"{row['outcome']} at {row['failed_stage']}: {signature.of_row(row)}"


def _rows(folder: Path, scenarios: set[str] | None) -> dict[Key, dict[str, Any]]:
    rows = rowfiles.read_all(folder, older=True)
    return {
        (r["machine"]["id"], r["cell_id"], r["scenario"], r["case_id"]): r
        for r in rows
        if scenarios is None or r["scenario"] in scenarios
    }


def diff(a: Path, b: Path, scenarios: set[str] | None = None) -> Diff:
    """Compare the verdicts of every row the two folders share (latency rows compare outcomes only)."""
    ra, rb = _rows(a, scenarios), _rows(b, scenarios)
    out = Diff(only_a=sorted(set(ra) - set(rb)), only_b=sorted(set(rb) - set(ra)))
    for key in sorted(set(ra) & set(rb)):
        out.compared += 1
        va, vb = verdict(ra[key]), verdict(rb[key])
        if va != vb:
            out.differ.append((key, va, vb))
    return out


def render(d: Diff, a: Path, b: Path) -> str:
    """One summary line, then each differing row and the rows only one folder has."""
    lines = [
        f"{d.compared} rows in both {a} and {b}: {len(d.differ)} differ in outcome, stage or error signature; "
        f"{len(d.only_a)} only in {a}, {len(d.only_b)} only in {b}."
    ]
    lines += [f"  {'/'.join(key[1:])} ({key[0]}): {va}  ->  {vb}" for key, va, vb in d.differ]
    return "\n".join(lines) + "\n"
