"""`report`: render report.md and its plots from the results folder alone (never imports a framework)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands import common
from harness.decl import cells as cells_mod
from harness.decl import scenarios

HELP = "render report.md and plots from results/ (never runs TensorFlow)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Where rows come from and where the report goes."""
    common.where(p)
    p.add_argument("--out", type=Path, help="report file (default: report.md beside the results folder)")
    p.add_argument("--plots", type=Path, help="plot folder (default: plots/ inside the results folder)")
    p.add_argument("--bisects", type=Path, default=common.ROOT / "experiments" / "bisect",
                   help="folder of bisect records (*.json) the answers cite (default: experiments/bisect)")  # fmt: skip
    p.add_argument("--invoked-by", default="python -m harness report", help="the command the user ran, for the report")


def main(args: argparse.Namespace) -> int:
    """Render from stored rows only."""
    common.need("report", "pandas", "matplotlib", "tabulate")
    from harness.readers import publish

    matrix, scens = cells_mod.load(args.cells), scenarios.load_all(args.scenarios)
    print(publish.render(matrix, scens, args.results, args.out, args.plots, args.bisects, args.invoked_by))
    return 0
