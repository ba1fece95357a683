"""The framework of one cell, imported the way its users import it, and what the child reports about it."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import traceback
import warnings
from dataclasses import dataclass
from typing import Any

from harness.signature import ANSI

DIST_NAMES = ("tensorflow-cpu", "tensorflow", "keras", "tf-keras", "jax", "jaxlib", "torch", "numpy", "h5py")


@dataclass
class Stack:
    """The imported framework of one cell: the keras module users would import, plus backend facts."""

    keras: Any
    flavor: str
    backend: str
    tf: Any = None


def installed_versions() -> dict[str, str]:
    """Versions of the distributions that decide the outcome, as installed in this environment."""
    found: dict[str, str] = {}
    for name in DIST_NAMES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def detect_flavor() -> str:
    """The flavor a user's own environment gives (`auto`): tf-keras when selected, else by Keras' major version."""
    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        return "tf_keras"
    try:
        major = importlib.metadata.version("keras").split(".")[0]
    except importlib.metadata.PackageNotFoundError:
        return "keras3"  # the import below says what is missing
    return "keras2" if major == "2" else "keras3"


def import_stack(flavor: str, backend: str) -> Stack:
    """Import Keras the way users of this flavor do (tf.keras for Keras 2 and tf-keras, keras for Keras 3)."""
    if flavor == "auto":
        flavor = detect_flavor()
    if flavor in ("keras2", "tf_keras"):
        import tensorflow as tf

        return Stack(keras=tf.keras, flavor=flavor, backend="tensorflow", tf=tf)
    keras = importlib.import_module("keras")
    backend = keras.backend.backend() if hasattr(keras.backend, "backend") else backend
    tf = importlib.import_module("tensorflow") if backend == "tensorflow" else None
    return Stack(keras=keras, flavor=flavor, backend=backend, tf=tf)


def detect_device(stack: Stack) -> str:
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


def first_cause(exc: BaseException) -> BaseException | None:
    """The exception that started a chain (`raise ... from`, or raised while handling another), None if alone."""
    seen = {id(exc)}
    inner: BaseException | None = None
    nxt = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    while nxt is not None and id(nxt) not in seen and len(seen) < 20:
        seen.add(id(nxt))
        inner = nxt
        nxt = nxt.__cause__ or (None if nxt.__suppress_context__ else nxt.__context__)
    return inner


def error_fields(exc: BaseException) -> dict[str, Any]:
    """Type, message and the innermost frames of an exception, and the type and message of the exception that
    started its chain (the cause a wrapper's first line hides), as JSON-safe strings."""
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    inner = first_cause(exc)
    return {
        "error_type": type(exc).__name__,
        "error_message": ANSI.sub("", str(exc))[:4000],
        "error_cause_type": type(inner).__name__ if inner is not None else None,
        "error_cause_message": ANSI.sub("", str(inner))[:2000] if inner is not None else None,
        "traceback_tail": "".join(tb)[-3000:],
    }


def warning_lines(caught: list[warnings.WarningMessage]) -> list[str]:
    """The distinct warnings a step raised, one short line each (at most 20)."""
    seen: list[str] = []
    for w in caught:
        line = f"{w.category.__name__}: {str(w.message).splitlines()[0][:300] if str(w.message) else ''}"
        if line not in seen:
            seen.append(line)
    return seen[:20]
