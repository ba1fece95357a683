"""Registered model builders and value kinds: the only code a scenario file can name."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Ids that scenario files may use. Kept free of TensorFlow/Keras imports so the parent can validate.
MASK_VALUE_KINDS = ("tensor-float64", "tensor-float32", "list", "numpy", "float")
FORMATS = (".keras", ".h5")
RNN_KINDS = ("lstm", "gru", "simple_rnn")
BUILDERS = ("masking_rnn",)


@dataclass
class Stack:
    """The imported framework of one cell: the keras module users would import, plus backend facts."""

    keras: Any
    flavor: str
    backend: str
    tf: Any = None


@dataclass
class CaseResult:
    """What one case produced: outcome, where it stopped, and numbers worth keeping."""

    outcome: str = "ok"
    failed_stage: str | None = None
    error: BaseException | None = None
    stage_s: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


class Mismatch(Exception):
    """Outputs after loading differ from outputs before saving."""


def mask_value(stack: Stack, kind: str, features: int, value: float) -> Any:
    """Build the mask_value the way users write it for this kind (tensors come from the cell's backend)."""
    import numpy as np

    arr64 = np.array([value] * features, dtype="float64")
    if kind == "list":
        return [value] * features
    if kind == "numpy":
        return arr64
    if kind == "float":
        return float(value)
    dtype = "float64" if kind == "tensor-float64" else "float32"
    if stack.tf is not None and stack.backend == "tensorflow":
        return stack.tf.convert_to_tensor(arr64.astype(dtype))
    return stack.keras.ops.convert_to_tensor(arr64.astype(dtype))


def padded_batch(model: dict[str, Any]) -> Any:
    """A seeded float32 batch whose padded timesteps hold exactly the mask value."""
    import numpy as np

    rng = np.random.default_rng(int(model["seed"]))
    batch, steps, feats = int(model["batch"]), int(model["timesteps"]), int(model["features"])
    x = rng.standard_normal((batch, steps, feats)).astype("float32")
    pad = round(steps * float(model["pad_fraction"]))
    if pad:
        if model["padding"] == "post":
            x[:, steps - pad :, :] = float(model["mask"])
        else:
            x[:, :pad, :] = float(model["mask"])
    return x


def _rnn_layer(keras: Any, kind: str, units: int) -> Any:
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}[kind]
    return layer(units)


def build_masking_rnn(stack: Stack, model: dict[str, Any], params: dict[str, str]) -> Any:
    """Masking -> RNN -> Dense, the shape of the reported bug."""
    keras = stack.keras
    keras.utils.set_random_seed(int(model["seed"]))
    mv = mask_value(stack, params["mask_value"], int(model["features"]), float(model["mask"]))
    return keras.Sequential(
        [
            keras.Input(shape=(int(model["timesteps"]), int(model["features"]))),
            keras.layers.Masking(mask_value=mv),
            _rnn_layer(keras, str(model["rnn"]), int(model["units"])),
            keras.layers.Dense(1),
        ]
    )


_BUILD: dict[str, Callable[[Stack, dict[str, Any], dict[str, str]], Any]] = {
    "masking_rnn": build_masking_rnn,
}


def run_case(
    stack: Stack,
    builder: str,
    model: dict[str, Any],
    tolerance: dict[str, float],
    params: dict[str, str],
    workdir: str,
    on_stage: Callable[[str], None] = lambda name: None,
) -> CaseResult:
    """Walk build -> predict -> save -> load -> predict_after_load -> equivalence, stopping at the first failure."""
    import numpy as np

    result = CaseResult()
    x = padded_batch(model)
    path = os.path.join(workdir, "model" + params["format"])
    state: dict[str, Any] = {}

    def build() -> None:
        state["model"] = _BUILD[builder](stack, model, params)

    def predict() -> None:
        state["before"] = np.asarray(state["model"].predict(x, verbose=0))

    def save() -> None:
        state["model"].save(path)

    def load() -> None:
        state["loaded"] = stack.keras.models.load_model(path)

    def predict_after_load() -> None:
        state["after"] = np.asarray(state["loaded"].predict(x, verbose=0))

    def equivalence() -> None:
        before, after = state["before"], state["after"]
        diff = float(np.max(np.abs(before.astype("float64") - after.astype("float64"))))
        result.details["max_abs_diff"] = diff
        if before.shape != after.shape or not np.allclose(
            before, after, rtol=tolerance["rtol"], atol=tolerance["atol"]
        ):
            raise Mismatch(
                f"outputs differ after load: max |before - after| = {diff:.3g} "
                f"(rtol={tolerance['rtol']}, atol={tolerance['atol']})"
            )

    stages: list[tuple[str, Callable[[], None]]] = [
        ("build", build),
        ("predict", predict),
        ("save", save),
        ("load", load),
        ("predict_after_load", predict_after_load),
        ("equivalence", equivalence),
    ]
    for name, fn in stages:
        on_stage(name)
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as exc:  # a failing stage is the finding we record
            result.outcome = "mismatch" if isinstance(exc, Mismatch) else "fail"
            result.failed_stage = name
            result.error = exc
            return result
        finally:
            result.stage_s[name] = round(time.perf_counter() - t0, 4)
    return result
