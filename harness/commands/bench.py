"""`bench`: time the latency scenario in the selected cells, rounds interleaved across cells."""

from __future__ import annotations

import argparse

from harness.commands import common

HELP = "time masked-RNN inference in the selected cells, rounds interleaved (installs cells it lacks)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Selection, freshness, device."""
    common.where(p)
    common.selection(p)
    common.run_options(p)
    common.device(p)
    p.add_argument(
        "--time-limit", type=float, default=0, metavar="SECONDS", help="start no process that would end later"
    )
    common.invoked(p)


def main(args: argparse.Namespace) -> int:
    """Time what is not current."""
    return common.execute(args, ("latency",), report=False)
