"""`spread`: how far latency figures moved between two runs (two results folders, or one folder's rows against the
previous run each row keeps), from rows only."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands import common

HELP = "how far latency figures moved between two runs (two results folders, or one against its kept previous run)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The folders, which statistic, where to write."""
    p.add_argument("first", type=Path, metavar="RESULTS_A", help="results folder of the first run")
    p.add_argument(
        "second",
        type=Path,
        nargs="?",
        metavar="RESULTS_B",
        help="results folder of the second run (left out: RESULTS_A's rows against the previous run each keeps)",
    )
    p.add_argument("--scenario", default="latency", help="latency scenario id (default: latency)")
    p.add_argument("--out", type=Path, help="also write the markdown here")
    p.add_argument(
        "--statistic",
        default="auto",
        help="auto (default: paired for a sweep, else ratio), paired (a sweep's masked / unmasked and masked / "
        "real-work ratios per point, from per-sample pairs, with 95%% CIs), ratio (median of sample / in-process "
        "reference), corrected_s (the same in seconds), median_s, q1_s, min_s or mean_s",
    )


def main(args: argparse.Namespace) -> int:
    """Print (and optionally write) the run-to-run movement of latency figures."""
    common.need("spread", "pandas", "scipy", "tabulate")
    from harness.readers import spread

    statistic = spread.chosen(args.first, args.scenario, args.statistic)
    if args.second is None:
        first = spread.medians(args.first, args.scenario, statistic, previous=True)
        second = spread.medians(args.first, args.scenario, statistic)
    else:
        first = spread.medians(args.first, args.scenario, statistic)
        second = spread.medians(args.second, args.scenario, statistic)
    table = spread.spread(first, second)
    text = spread.render(table, spread.summary(table), statistic)
    print(text, end="")
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0
