"""`matrix`: measure what is not current in the selected cells (cases, latency, cross-load), then render the report."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands import common
from harness.errors import UserError
from harness.runner.parts import names

# A scenario measured as a part of its own: its cases in every selected cell, then every cell loading its files.
SCENARIO_PARTS = {"zoo": (("compat", "upgrade"), "zoo/*")}

HELP = "measure what is not current in the selected cells: cases, latency, cross-load, upgrade paths; then the report"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Selection, freshness, parallelism, device, and where interpreters come from."""
    common.where(p)
    common.selection(p)
    common.run_options(p)
    common.device(p)
    p.add_argument(
        "--part",
        action="append",
        choices=(*names(), *SCENARIO_PARTS),
        help="only these parts (repeatable; default: all); `zoo`: the zoo's cases and the loads of its files",
    )
    p.add_argument(
        "--wheels",
        type=Path,
        help="run in this interpreter, Keras unpacked from WHEELS/keras-<version>/ (a GPU machine without network)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=0,
        metavar="SECONDS",
        help="start no timing process that would end later than this after the timing starts (a lent device)",
    )
    p.add_argument("--no-report", action="store_true", help="do not render report.md afterwards")
    p.add_argument("--plan", action="store_true", help="print what would be measured (part, cell, cases) and stop")
    common.invoked(p)


def main(args: argparse.Namespace) -> int:
    """Plan, run, summarise, report."""
    alias = [p for p in args.part or [] if p in SCENARIO_PARTS]
    if alias and len(set(args.part)) > 1:
        raise UserError(f"--part {alias[0]} is a scenario's own part; give it alone, or select its cases with "
                        f"--case '{SCENARIO_PARTS[alias[0]][1]}' beside the parts you want")  # fmt: skip
    if alias:
        chosen, pattern = SCENARIO_PARTS[alias[0]]
        args.part, args.case = list(chosen), args.case or [pattern]  # --case narrows it further
    parts = tuple(p for p in names() if p in args.part) if args.part else names()
    return common.execute(args, parts, report=not args.no_report)
