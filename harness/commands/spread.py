"""`spread`: how far latency medians moved between two runs (two results folders), from rows only."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands import common

HELP = "how far latency medians moved between two runs (two results folders)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The two folders, which statistic, where to write."""
    p.add_argument("first", type=Path, metavar="RESULTS_A", help="results folder of the first run")
    p.add_argument("second", type=Path, metavar="RESULTS_B", help="results folder of the second run")
    p.add_argument("--scenario", default="latency", help="latency scenario id (default: latency)")
    p.add_argument("--out", type=Path, help="also write the markdown here")
    p.add_argument(
        "--statistic",
        default="ratio",
        help="ratio (default: median of sample / in-process reference), corrected_s (the same in seconds), "
        "median_s, q1_s, min_s or mean_s",
    )


def main(args: argparse.Namespace) -> int:
    """Print (and optionally write) the run-to-run movement of latency medians."""
    common.need("spread", "pandas", "scipy", "tabulate")
    from harness.readers import spread

    first = spread.medians(args.first, args.scenario, args.statistic)
    table = spread.spread(first, spread.medians(args.second, args.scenario, args.statistic))
    text = spread.render(table, spread.summary(table), args.statistic)
    print(text, end="")
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0
