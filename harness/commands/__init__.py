"""One module per command of `python -m harness`: each has HELP, `add_arguments(parser)` and `main(args)`."""

from __future__ import annotations

import importlib
from types import ModuleType

NAMES = (
    "matrix",
    "run",
    "bench",
    "crossload",
    "report",
    "site",
    "triage",
    "check",
    "bisect",
    "repair",
    "spread",
    "diff",
    "cells",
    "merge",
    "ci-matrix",
)


def module(name: str) -> ModuleType:
    """The module of one command."""
    return importlib.import_module(f"harness.commands.{name.replace('-', '_')}")
