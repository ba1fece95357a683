"""`diff A B`: do two results folders give every case they share the same outcome, stage and error signature?"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "compare two results folders row by row: outcome, failing stage and error signature (exit 1 if any differ)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The two folders, and which scenarios to compare."""
    p.add_argument("first", type=Path, metavar="RESULTS_A", help="results folder")
    p.add_argument("second", type=Path, metavar="RESULTS_B", help="results folder")
    p.add_argument("--scenario", action="append", metavar="ID", help="compare only this scenario (repeatable)")


def main(args: argparse.Namespace) -> int:
    """Print the comparison; exit 1 when a shared row differs."""
    from harness.readers import outcomes

    d = outcomes.diff(args.first, args.second, set(args.scenario) if args.scenario else None)
    print(outcomes.render(d, args.first, args.second), end="")
    return 1 if d.differ else 0
