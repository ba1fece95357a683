"""`site`: build the static site (matrix, upgrade lookup, latency) from results/summary.json (no framework)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from harness.commands.common import ROOT

HELP = "build the static site (site/) from results/summary.json; it opens from file:// with no network"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Where the summary comes from and where the site goes."""
    results = Path(os.environ.get("MASKCOMPAT_RESULTS", ROOT / "results"))
    p.add_argument(
        "--summary",
        type=Path,
        default=results / "summary.json",
        help=f"the summary `nox -s report` writes (default {results / 'summary.json'})",
    )
    p.add_argument("--out", type=Path, default=ROOT / "site", help=f"site folder (default {ROOT / 'site'})")


def main(args: argparse.Namespace) -> int:
    """Check the summary against its schema, then write index.html, site.css, site.js and data.js."""
    from harness.readers import site

    summary = site.load(args.summary)
    print(site.describe(summary, site.build(summary, args.out)))
    return 0
