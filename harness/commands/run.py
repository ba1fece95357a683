"""`run`: one cell's compatibility cases in a given interpreter (default: this one), without installing anything."""

from __future__ import annotations

import argparse
import sys

from harness.commands import common

HELP = "run one cell's compatibility cases in an interpreter that has its pins (default: this one)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The cell, the interpreter, the cases."""
    common.where(p)
    p.add_argument(
        "--cell", action="append", required=True, metavar="ID", help="cell id (see `python -m harness cells`)"
    )
    p.add_argument("--case", action="append", metavar="GLOB", help="only cases whose id matches (repeatable)")
    p.add_argument("--python", default=sys.executable, help="the cell environment's interpreter (default: this one)")
    p.add_argument("--fresh", action="store_true", help="rerun even if up-to-date rows exist")
    p.add_argument("--jobs", type=int, default=1, help="children for the cell (default 1)")
    common.device(p)
    common.invoked(p)


def main(args: argparse.Namespace) -> int:
    """Run the cell's cases that are not current in the given interpreter."""
    args.tag = None
    return common.execute(args, ("compat",), report=False)
