"""`report`: render report.md and its plots from the results folder alone (never imports a framework)."""

from __future__ import annotations

import argparse
from pathlib import Path

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


def render(matrix: Matrix, scens: list[Scenario], results: Path, out: Path | None = None,
           plots: Path | None = None) -> str:  # fmt: skip
    """Write the report from the stored rows; returns what was written, for the progress line."""
    from harness.readers import report

    rows = files.read_all(results)
    out = out or results.parent / "report.md"
    plots = plots or results / "plots"
    report.write(rows, matrix, scens, out, plots)
    return f"wrote {out} ({len(rows)} rows) and plots in {plots}"


def main(args: argparse.Namespace) -> int:
    """Render from stored rows only."""
    common.need("report", "pandas", "matplotlib", "tabulate")
    print(render(cells_mod.load(args.cells), scenarios.load_all(args.scenarios), args.results, args.out, args.plots))
    return 0
