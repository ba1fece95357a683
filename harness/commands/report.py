"""`report`: render report.md and its plots from the results folder alone (never imports a framework)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness import provenance
from harness.commands import common
from harness.decl import cells as cells_mod
from harness.decl import scenarios
from harness.decl.cells import Matrix
from harness.decl.scenarios import Scenario
from harness.store import files

HELP = "render report.md and plots from results/ (never runs TensorFlow)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Where rows come from and where the report goes."""
    common.where(p)
    p.add_argument("--out", type=Path, help="report file (default: report.md beside the results folder)")
    p.add_argument("--plots", type=Path, help="plot folder (default: plots/ inside the results folder)")
    p.add_argument("--bisects", type=Path, default=common.ROOT / "experiments" / "bisect",
                   help="folder of bisect records (*.json) the answers cite (default: experiments/bisect)")  # fmt: skip
    p.add_argument("--invoked-by", default="python -m harness report", help="the command the user ran, for the report")


def render(matrix: Matrix, scens: list[Scenario], results: Path, out: Path | None = None,
           plots: Path | None = None, bisect_dir: Path | None = None,
           command: str = "python -m harness report") -> str:  # fmt: skip
    """Write the report, its pages and summary.json from the stored rows; returns what was written."""
    from harness.readers import bisects, report

    rows = files.read_all(results)
    out = out or results.parent / "report.md"
    plots = plots or results / "plots"
    records = bisects.load(bisect_dir)
    summary = results / "summary.json"
    report.write(rows, matrix, scens, out, plots, records, command, provenance.commit(), summary)
    return f"wrote {out}, its pages in {out.parent / 'report'}, {summary} ({len(rows)} rows) and plots in {plots}"


def main(args: argparse.Namespace) -> int:
    """Render from stored rows only."""
    common.need("report", "pandas", "matplotlib", "tabulate")
    matrix, scens = cells_mod.load(args.cells), scenarios.load_all(args.scenarios)
    print(render(matrix, scens, args.results, args.out, args.plots, args.bisects, args.invoked_by))
    return 0
