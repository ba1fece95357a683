"""Runs cases inside one cell's environment: imports the framework once, then serves cases over a pipe.

Protocol: one JSON request per line on stdin; one JSON reply per line on the file descriptor named by
MASKCOMPAT_RESULT_FD. stdout/stderr carry only framework noise and go to the supervisor's log file.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import platform
import sys
import time
import traceback
import warnings
from typing import Any

from harness import builders, signature

DIST_NAMES = ("tensorflow-cpu", "tensorflow", "keras", "tf-keras", "jax", "jaxlib", "torch", "numpy", "h5py")


def installed_versions() -> dict[str, str]:
    """Versions of the distributions that decide the outcome, as installed in this environment."""
    found: dict[str, str] = {}
    for name in DIST_NAMES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def import_stack(flavor: str, backend: str) -> builders.Stack:
    """Import Keras the way users of this flavor do (tf.keras for Keras 2 and tf-keras, keras for Keras 3)."""
    if flavor in ("keras2", "tf_keras"):
        import tensorflow as tf

        return builders.Stack(keras=tf.keras, flavor=flavor, backend="tensorflow", tf=tf)
    keras = importlib.import_module("keras")
    tf = importlib.import_module("tensorflow") if backend == "tensorflow" else None
    return builders.Stack(keras=keras, flavor=flavor, backend=backend, tf=tf)


def detect_device(stack: builders.Stack) -> str:
    """`cpu`, or `gpu:<name>` when the backend sees a GPU."""
    if stack.backend == "tensorflow":
        gpus = stack.tf.config.list_physical_devices("GPU")
        if gpus:
            details = stack.tf.config.experimental.get_device_details(gpus[0])
            return f"gpu:{details.get('device_name', gpus[0].name)}"
    elif stack.backend == "jax":
        import jax

        dev = jax.devices()[0]
        if dev.platform == "gpu":
            return f"gpu:{dev.device_kind}"
    elif stack.backend == "torch":
        import torch

        if torch.cuda.is_available():
            return f"gpu:{torch.cuda.get_device_name(0)}"
    return "cpu"


def error_fields(exc: BaseException) -> dict[str, Any]:
    """Type, message and the innermost frames of an exception, as JSON-safe strings."""
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return {
        "error_type": type(exc).__name__,
        "error_message": signature.ANSI.sub("", str(exc))[:4000],
        "traceback_tail": "".join(tb)[-3000:],
    }


def _warning_lines(caught: list[warnings.WarningMessage]) -> list[str]:
    seen: list[str] = []
    for w in caught:
        line = f"{w.category.__name__}: {str(w.message).splitlines()[0][:300] if str(w.message) else ''}"
        if line not in seen:
            seen.append(line)
    return seen[:20]


def serve(reply: Any, stack: builders.Stack) -> None:
    """Answer case requests until stdin closes."""
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        t0 = time.perf_counter()

        def on_stage(name: str) -> None:
            reply.write(json.dumps({"type": "stage", "name": name}) + "\n")
            reply.flush()

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = builders.run_case(
                stack,
                req["builder"],
                req["model"],
                req["tolerance"],
                req["params"],
                req["workdir"],
                on_stage,
                req["case_id"],
            )
        out: dict[str, Any] = {
            "type": "result",
            "case_id": req["case_id"],
            "outcome": res.outcome,
            "failed_stage": res.failed_stage,
            "stage_s": res.stage_s,
            "details": res.details,
            "warnings": _warning_lines(caught),
            "duration_s": round(time.perf_counter() - t0, 4),
        }
        if res.error is not None:
            out.update(error_fields(res.error))
        reply.write(json.dumps(out) + "\n")
        reply.flush()


def main() -> int:
    """Import the stack (stage `import`), report the environment, then serve cases."""
    reply = os.fdopen(int(os.environ["MASKCOMPAT_RESULT_FD"]), "w", encoding="utf-8")
    flavor = os.environ["MASKCOMPAT_FLAVOR"]
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            stack = import_stack(flavor, backend)
            device = detect_device(stack)
        except Exception as exc:
            msg = {"type": "import_error", "versions": installed_versions(), **error_fields(exc)}
            reply.write(json.dumps(msg) + "\n")
            reply.flush()
            return 3
    ready = {
        "type": "ready",
        "versions": installed_versions(),
        "python": platform.python_version(),
        "device": device,
        "import_s": round(time.perf_counter() - t0, 3),
        "warnings": _warning_lines(caught),
    }
    reply.write(json.dumps(ready) + "\n")
    reply.flush()
    serve(reply, stack)
    return 0


if __name__ == "__main__":
    sys.exit(main())
