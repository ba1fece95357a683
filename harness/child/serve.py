"""The one child protocol: import the stack once, say `ready` (or `import_error`), then answer requests.

`python -m harness.child HANDLER` runs in a cell's interpreter with an explicit environment from the runner.
Requests come one JSON object per line on stdin; every message goes back one JSON object per line on the
file descriptor named by MASKCOMPAT_RESULT_FD: `ready` or `import_error` once, then per request any number
of `stage` messages (the parent reports the last one when the child dies or hangs) and one `result`.
stdout and stderr carry only framework noise; the runner sends them to a log file.

A handler's child module (named in the one registry, `harness.decl.handlers`) has `handle(stack, request,
stage) -> dict` and, optionally, `before_import()`, `ready_info(stack) -> dict`, `WARNINGS = "ignore"` (timed
handlers: no warning is recorded while they measure) and `FREEZE_IMPORTS = False` (the import's objects are not
frozen).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any, TextIO

from harness.child import limits
from harness.child.stack import detect_device, error_fields, import_stack, installed_versions, warning_lines
from harness.decl import kinds
from harness.decl.handlers import HANDLERS


def _send(reply: TextIO, message: dict[str, Any]) -> None:
    reply.write(json.dumps(message) + "\n")
    reply.flush()


def answer(handler: Any, stack: Any, request: dict[str, Any], reply: TextIO) -> dict[str, Any]:
    """One request: the handler's result, or the exception that escaped it as a `fail` at the last stage."""
    current: list[str] = []

    def stage(name: str) -> None:
        current.append(name)
        _send(reply, {"type": "stage", "name": name})

    t0 = time.perf_counter()
    record = getattr(handler, "WARNINGS", "record") == "record"
    with warnings.catch_warnings(record=record) as caught:
        warnings.simplefilter("always" if record else "ignore")
        try:
            result = handler.handle(stack, request, stage)
        except Exception as exc:
            result = {"outcome": "fail", "failed_stage": current[-1] if current else None, **error_fields(exc)}
    out = {"type": "result", **result, "duration_s": round(time.perf_counter() - t0, 4)}
    if record:
        out["warnings"] = warning_lines(caught or [])
    return out


def serve(handler: Any, requests: TextIO, reply: TextIO) -> int:
    """Import the stack (stage `import`), report the environment, then answer requests until stdin closes."""
    before_import: Callable[[], None] = getattr(handler, "before_import", lambda: None)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            before_import()
            stack = import_stack(os.environ.get("MASKCOMPAT_FLAVOR", "auto"), os.environ.get("KERAS_BACKEND", ""))
            device = detect_device(stack)
        except Exception as exc:
            _send(reply, {"type": "import_error", "versions": installed_versions(), **error_fields(exc)})
            return 3
    info: Callable[[Any], dict[str, Any]] = getattr(handler, "ready_info", lambda stack: {})
    ready = {
        "type": "ready",
        "versions": installed_versions(),
        "python": platform.python_version(),
        "flavor": stack.flavor,
        "backend": stack.backend,
        "device": device,
        "import_s": round(time.perf_counter() - t0, 3),
        "warnings": warning_lines(caught),
        **info(stack),
    }
    # The framework's import-time objects live as long as the child; frozen, no full collection walks them
    # again (Keras 3's clear_session runs one per model: 8 of 39 s in an 87-case cell, 8 of 16 s with torch).
    if getattr(handler, "FREEZE_IMPORTS", True):
        gc.freeze()
    _send(reply, ready)
    for line in requests:
        if line.strip():
            _send(reply, answer(handler, stack, json.loads(line), reply))
    return 0


def main(argv: list[str]) -> int:
    """Entry point: the handler named on the command line, the reply pipe named in the environment."""
    limits.apply()  # a sandboxed child's limits, before it imports the framework or reads a request
    kinds.load()  # kinds the environment adds (MASKCOMPAT_KINDS)
    if len(argv) != 1 or argv[0] not in HANDLERS:
        print(f"usage: python -m harness.child {{{','.join(HANDLERS)}}}", file=sys.stderr)
        return 2
    reply = os.fdopen(int(os.environ["MASKCOMPAT_RESULT_FD"]), "w", encoding="utf-8")
    try:
        handler = importlib.import_module(HANDLERS[argv[0]].child)
    except Exception as exc:  # a handler that cannot load is an import failure of the cell, reported as such
        _send(reply, {"type": "import_error", "versions": installed_versions(), **error_fields(exc)})
        return 3
    return serve(handler, sys.stdin, reply)
