"""Faults caused for real by a case, so the tests see what a crashing or broken release does to a batch."""

from __future__ import annotations

import ctypes
import importlib
import os
from collections.abc import Callable


def cause(kind: str, stage: Callable[[str], None]) -> BaseException:
    """Abort or segfault this process, or return the exception a module raised while it was imported."""
    if kind == "raise-at-import":
        stage("import")
        try:
            importlib.import_module("harness.child.fault_import")  # raises while it is imported
        except Exception as exc:
            return exc
        raise AssertionError("harness.child.fault_import imported without raising")
    stage("build")
    if kind == "abort":
        os.abort()  # SIGABRT, as a failed assertion in a native library does
    ctypes.string_at(0)  # a read of address 0: SIGSEGV
    raise AssertionError("the child survived a segfault")
