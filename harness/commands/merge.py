"""`merge`: fold results folders (CI artifacts, other machines) into one, never silently losing a row."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands import common
from harness.decl import scenarios
from harness.errors import UserError

HELP = "merge results folders (CI artifacts, other machines) into one"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Sources, destination, conflict rule."""
    p.add_argument("sources", nargs="+", type=Path, metavar="RESULTS", help="results folders to merge in")
    p.add_argument("--into", type=Path, default=common.ROOT / "results", help="destination results folder")
    p.add_argument("--scenarios", type=Path, default=common.ROOT / "scenarios", help="scenario folder (row order)")
    p.add_argument("--newer-wins", action="store_true", help="on a conflict keep the later measurement")
    p.add_argument("--scenario", action="append", metavar="ID", help="merge only rows of this scenario (repeatable)")


def main(args: argparse.Namespace) -> int:
    """Merge; conflicting rows stop the merge unless --newer-wins."""
    from harness.store import merge

    scens = scenarios.load_all(args.scenarios)
    order = [(c.scenario, c.case_id) for s in scens for c in s.cases()]
    known = {s for s, _ in order}
    unknown = sorted(set(args.scenario or []) - known)
    if unknown:
        raise UserError(f"unknown scenario(s) {unknown}; known: {sorted(known)}")
    declared = {s.id: s.measured_by for s in scens}
    done = merge.merge(args.sources, args.into, order, newer_wins=args.newer_wins, only=args.scenario,
                       measured_by=declared)  # fmt: skip
    print(
        f"merged into {args.into}: {done.added} rows added, {done.identical} identical, "
        f"{len(done.replaced)} replaced by later ones, {len(done.kept)} later ones kept; {done.files} files written"
    )
    for line in done.replaced + done.kept:
        print(f"  {line}")
    return 0
