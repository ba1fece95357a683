"""`crossload`: every cell of a cross-load set saves the seed model's files, then every cell loads them all."""

from __future__ import annotations

import argparse

from harness.commands import common

HELP = "save in every cell of a cross-load set, load in every one (installs cells it lacks)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Freshness, device."""
    common.where(p)
    common.run_options(p)
    common.device(p)
    common.invoked(p)


def main(args: argparse.Namespace) -> int:
    """Run the sets whose rows are not current (their cells are selected for them)."""
    from harness.decl import cells as cells_mod
    from harness.decl import scenarios

    sets = [s for s in scenarios.load_all(args.scenarios) if s.handler == "crossload"]
    matrix = cells_mod.load(args.cells)
    args.cell = sorted({cid for s in sets for cid in s.cells} & {c.id for c in matrix.cells}) or None
    args.tag, args.case = None, None
    return common.execute(args, ("crossload",), report=False)
