"""What every detail page shares: where pages live and how they link, tables in markdown, the error signatures,
the machine page and the provenance block of each scenario page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from harness import signature
from harness.decl import caseids
from harness.decl import causes as catalog
from harness.decl.cells import Matrix
from harness.decl.scenarios import Scenario
from harness.readers.model import Entry, cause_of, cell_order, reproduce


def md(df: pd.DataFrame) -> str:
    return str(df.to_markdown(index=False))


def rel(target: Path, page_dir: Path) -> str:
    return Path(os.path.relpath(target, page_dir)).as_posix()


def signatures(rows: list[dict[str, Any]], matrix: Matrix) -> pd.DataFrame:
    """Distinct error signatures with counts, the cells they occur on, and one example message."""
    order = {c.id: cell_order(c) for c in matrix.cells}
    failing = sorted(
        (
            {**r, "error_signature": signature.of_row(r)}
            for r in rows
            if r["error_signature"] and r["cell_id"] in order and r["outcome"] != "skip"
        ),
        key=lambda r: (order[r["cell_id"]], r["scenario"], r["case_id"]),
    )
    if not failing:
        return pd.DataFrame(columns=["signature", "rows", "cells", "example"])
    df = pd.DataFrame(failing)
    out = []
    for sig, grp in df.groupby("error_signature", sort=True):
        cells = sorted(set(grp["cell_id"]), key=lambda c: order[c])
        out.append(
            {
                "signature": sig,
                "rows": len(grp),
                "cells": cells,
                "example": str(grp.iloc[0]["error_message"]),
                "example_cell": grp.iloc[0]["cell_id"],
                "example_case": grp.iloc[0]["case_id"],
                "cause": cause_of(failing[int(grp.index[0])]),
            }
        )
    return pd.DataFrame(out).sort_values(["rows", "signature"], ascending=[False, True]).reset_index(drop=True)


def sig_numbers(rows: list[dict[str, Any]], matrix: Matrix) -> dict[str, int]:
    """Error signature -> its number on the machine page (most rows first)."""
    return {str(s): i + 1 for i, s in enumerate(signatures(rows, matrix)["signature"])}


class Pages:
    """Where a machine's detail pages live, and links between them."""

    def __init__(self, root: Path, machine_id: str) -> None:
        self.root, self.machine_id, self.dir = root, machine_id, root / "report"

    def scenario(self, scen_id: str) -> Path:
        """The page of one scenario on this machine."""
        return self.dir / f"{scen_id}-{self.machine_id}.md"

    def machine(self) -> Path:
        """The page of this machine: cells, error signatures, skips."""
        return self.dir / f"machine-{self.machine_id}.md"


def linked(e: Entry, sigs: dict[str, int], pages: Pages) -> str:
    """An entry's text; a failing entry links to its cause on the machine page (an unexplained one to its error
    signature there)."""
    cause = e.cause
    if cause and cause != catalog.UNEXPLAINED:
        return f"[{e.text}]({pages.machine().name}#cause-{cause})"
    sig = signature.of_row(e.row or {})
    if cause and sig in sigs:
        return f"[{e.text}]({pages.machine().name}#sig-{sigs[sig]})"
    return e.text


def causes_block(rows: list[dict[str, Any]], matrix: Matrix, scens: list[Scenario]) -> list[str]:
    """The machine's causes: how many current failing rows the catalog explains, then each cause (anchored) with
    its sentence, rows, the cells it is seen in (where the file was loaded, and the cells that saved it) and where
    upstream tells of it."""
    from harness.readers import causes

    table = causes.table(rows, matrix, scens)
    known, total = causes.explained(table)
    out = ["## Why rows fail: causes", ""]
    if not total:
        return [*out, "No failures recorded.", ""]
    out.append(
        f"{known} of {total} failing rows ({100 * known / total:.1f}%) have a cause of the catalog "
        "(`causes/causes.toml`, matched on the exception that failed first); the rest are `unexplained`."
    )
    out.append("")
    for c in table.to_dict("records"):
        line = f'- <a id="cause-{c["cause"]}"></a>**`{c["cause"]}`**: {c["sentence"]}. {c["rows"]} rows'
        line += f" ({c['scenarios']}). In: {c['cells']}."
        line += f" Files saved by: {c['saved_by']}." if c["saved_by"] else ""
        line += f" Upstream: <{c['upstream']}>." if c["upstream"] else ""
        out.append(line)
    return [*out, ""]


def entries_block(scen: Scenario, grid: dict[tuple[str, str], Entry], matrix: Matrix) -> list[str]:
    """Per cell (with an anchor): when and by what its rows were measured, the packages, then every entry's
    reproduce command."""
    out = ["## Entries: provenance and reproduce commands", ""]
    out.append(
        "Each command reruns one entry with the packages its row recorded (`uv` makes a throwaway environment); "
        "`nox -s matrix -- --cell ID --fresh` reruns a whole cell with its declared pins."
    )
    for cell in sorted(matrix.cells, key=cell_order):
        if not scen.applies_to(cell.id, cell.tags):
            continue
        keys = [caseids.key(scen.id, c.case_id) for c in scen.cases()]
        got = [(k, grid[(cell.id, k)]) for k in keys if (cell.id, k) in grid]
        rows = [e.row for _, e in got if e.row]
        out += ["", f'<a id="cell-{cell.id}"></a>', f"### `{cell.id}`", ""]
        if rows:
            first = rows[0]
            when = sorted(r["started_at"] for r in rows)
            commits = sorted({str(r.get("harness_commit") or "not recorded") for r in rows})
            packages = ", ".join(f"{k}=={v}" for k, v in sorted((first.get("packages") or {}).items()))
            out.append(
                f"Measured {when[0]} to {when[-1]} by `{first.get('measured_by')}`, harness "
                f"{first.get('harness_version')} (commit {', '.join(commits)}), Python {first.get('python')}, "
                f"device {first.get('device')}; packages: {packages}; command: `{first.get('invoked_by')}`."
            )
        else:
            out.append("No row yet.")
        if len(keys) > WIDE and rows:  # a wide scenario: one command for the cell's entries, the failing ones listed
            out += ["", f"Every entry of this cell: `{reproduce(cell.id, f'{scen.id}/*', rows[0])}`."]
            got = [(k, e) for k, e in got if e.status != "ok"]
        out += ["", "| case | entry | reproduce |", "|---|---|---|"]
        out += [f"| `{caseids.split(k)[1]}` | {e.text} | `{reproduce(cell.id, k, e.row)}` |" for k, e in got]
    return out


WIDE = 40  # cases: a scenario with more lists only its failing entries per cell, with one command for them all


def machine_page(machine_id: str, rows: list[dict[str, Any]], matrix: Matrix, grid: dict[tuple[str, str], Entry],
                 sigs: dict[str, int], every: list[dict[str, Any]] | None = None,
                 scens: list[Scenario] | None = None) -> str:  # fmt: skip
    """A machine: what it is, when it measured, its cells, why rows fail (every row's causes, anchored), every error
    signature (anchored), the skipped routes."""
    m = rows[0]["machine"]
    started = sorted(r["started_at"] for r in rows)
    commands = sorted({r.get("invoked_by", "") for r in rows} - {""})
    counts = pd.Series([e.status for e in grid.values() if e.status != "not run"]).value_counts().sort_index()
    out = [f"# Machine `{machine_id}`", "", "[← report](../report.md)", ""]
    out.append(
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']} ({m['arch']})"
        + (f", {m['gpu']}" if m.get("gpu") else "")
        + f". Rows measured from {started[0]} to {started[-1]} (UTC) by: "
        + ", ".join(f"`{c}`" for c in commands)
        + ". Entries: "
        + ", ".join(f"{n} {k}" for k, n in counts.items())
        + "."
    )
    out += ["", "## Cells", ""]
    by_cell: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_cell.setdefault(row["cell_id"], row)
    info = []
    for cell in sorted(matrix.cells, key=cell_order):
        r = by_cell.get(cell.id) or {}
        info.append(
            {
                "cell": f'<a id="cell-{cell.id}"></a>`{cell.id}`',
                "python": r.get("python", cell.python),
                "packages": ", ".join(f"{k} {v}" for k, v in sorted((r.get("packages") or {}).items())) or "not run",
                "backend": cell.backend,
                "device": r.get("device", "not run"),
                "roles": ", ".join(cell.roles),
            }
        )
    out.append(md(pd.DataFrame(info)))
    out += ["", *causes_block(every if every is not None else rows, matrix, scens or [])]
    table = signatures(rows, matrix)
    out += ["## Error signatures", ""]
    if table.empty:
        out.append("No failures recorded.")
    for s in table.to_dict("records"):
        cells = s["cells"]
        where = ", ".join(f"`{c}`" for c in cells[:6]) + (f" and {len(cells) - 6} more" if len(cells) > 6 else "")
        out.append(f'{sigs[s["signature"]]}. <a id="sig-{sigs[s["signature"]]}"></a>`{s["signature"]}` — ')
        out[-1] += f"{s['rows']} rows on {len(cells)} cells ({where}); cause `{s['cause']}`."
        out.append(f"   Example ({s['example_cell']}, `{s['example_case']}`):")
        out.append("   ```text")
        out += [f"   {line}" for line in s["example"][:600].splitlines()[:8]]
        out.append("   ```")
    skips = sorted(  # files a cell could not save for another (stage `source`) are in the cross-load tables
        {(e.row["error_message"], cid) for (cid, _), e in grid.items()
         if e.status == "skip" and e.row and e.row.get("failed_stage") != "source"}
    )  # fmt: skip
    if skips:
        out += ["", "## Skipped: routes that do not exist in a cell", ""]
        reasons: dict[str, list[str]] = {}
        for reason, cid in skips:
            reasons.setdefault(reason, []).append(cid)
        out += [f"- {why} ({', '.join(f'`{c}`' for c in sorted(set(cs)))})" for why, cs in sorted(reasons.items())]
    return "\n".join(out) + "\n"
