"""The repository commit of the code that runs, so that rows and reports say which code measured them."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASURING = ("harness", "cells", "scenarios")  # local changes here change what is measured


@functools.cache
def commit() -> str | None:
    """`git` HEAD (12 hex digits), with `+local` when the measuring code differs from it; None outside a checkout."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", *MEASURING],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+local" if dirty.stdout.strip() else "")
