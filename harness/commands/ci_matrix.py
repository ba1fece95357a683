"""`ci-matrix`: the CI job matrix from `python -m harness cells --json`: a job per cell, GPU cells apart."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness import ci
from harness.errors import UserError

HELP = "CI job matrix from `python -m harness cells --json` (stdin or a file), as $GITHUB_OUTPUT lines"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Where the cells listing comes from."""
    p.add_argument("listing", nargs="?", type=Path, help="file with the cells listing (default: stdin)")


def main(args: argparse.Namespace) -> int:
    """Print the job matrix as $GITHUB_OUTPUT lines."""
    try:
        text = args.listing.read_text(encoding="utf-8") if args.listing else sys.stdin.read()
        listing = json.loads(text)
    except OSError as exc:
        raise UserError(f"cannot read {args.listing}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"not JSON from `python -m harness cells --json`: {exc.msg} at line {exc.lineno}") from None
    sys.stdout.write(ci.github_output(ci.job_matrix(listing)))
    return 0
