"""`cells`: list the cells of the matrix with their pins, and the excluded ones with reasons."""

from __future__ import annotations

import argparse
import json

from harness.commands import common
from harness.decl import cells as cells_mod

HELP = "list the cells of the matrix and the excluded ones"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The cells file and the output form."""
    common.where(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def main(args: argparse.Namespace) -> int:
    """One line per cell (or JSON)."""
    matrix = cells_mod.load(args.cells)
    if args.json:
        data = {
            "cells": [
                {
                    "id": c.id,
                    "python": c.python,
                    "pins": c.pins,
                    "backend": c.backend,
                    "flavor": c.flavor,
                    "roles": list(c.roles),
                    "tags": c.tags,
                    "default": c.default,
                }
                for c in matrix.cells
            ],
            "excluded": [{"id": e.id, "reason": e.reason} for e in matrix.excluded],
        }
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    for c in matrix.cells:
        print(f"{c.id:<34} {c.summary}  ({', '.join(c.tags)}{'' if c.default else ', not default'})")
    for e in matrix.excluded:
        print(f"{e.id:<34} EXCLUDED: {e.reason}")
    return 0
