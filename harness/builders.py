"""Registered model builders, value kinds and save/load routes: the only code a scenario file can name."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Ids that scenario files may use, per builder. Kept free of TensorFlow/Keras imports so the parent
# process can validate scenario files without a framework.
MASK_VALUE_KINDS = ("tensor-float64", "tensor-float32", "list", "numpy", "float")
FORMATS = (".keras", ".h5", "savedmodel", ".weights.h5")
ROUTES = ("plain", "list", "custom-layer", "custom-objects", "savedmodel", "weights-only", "repair")
RNN_KINDS = ("lstm", "gru", "simple_rnn", "bilstm")
OUTPUTS = ("last", "sequence")
PADDINGS = ("post", "pre")
OBJECTS = (
    "rescaling",
    "normalization",
    "constant",
    "discretization",
    "integer-lookup",
    "string-lookup",
    "embedding",
)
VALUE_KINDS = ("tensor", "numpy")
# Faults the harness must survive, caused for real by a case (its fault tests; never in scenarios/).
FAULTS = ("abort", "segfault", "raise-at-import")

PARAM_IDS: dict[str, dict[str, tuple[str, ...]]] = {
    "masking_rnn": {
        "mask_value": MASK_VALUE_KINDS,
        "format": FORMATS,
        "route": ROUTES,
        "rnn": RNN_KINDS,
        "outputs": OUTPUTS,
        "padding": PADDINGS,
    },
    "layer_arg": {"object": OBJECTS, "value_kind": VALUE_KINDS, "format": (".keras", ".h5")},
    "fault": {"fault": FAULTS},
}
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "masking_rnn": ("mask_value", "format"),
    "layer_arg": ("object", "value_kind", "format"),
    "fault": ("fault",),
}
MODEL_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "masking_rnn": {
        "rnn": str,
        "units": int,
        "timesteps": int,
        "features": int,
        "batch": int,
        "padding": str,
        "pad_fraction": (int, float),
        "mask": (int, float),
        "seed": int,
    },
    "layer_arg": {"features": int, "batch": int, "seed": int},
    "fault": {},
}
BUILDERS = tuple(PARAM_IDS)


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
    """Outputs differ from what they must equal (the pre-save outputs, or the unpadded reference)."""


class Skip(Exception):
    """The route does not exist in this cell; the message says why."""


# ---- values ---------------------------------------------------------------------------------------
def as_tensor(stack: Stack, value: Any, dtype: str | None = None) -> Any:
    """A tensor of the cell's backend, built the way users build one (tf.convert_to_tensor on TensorFlow)."""
    import numpy as np

    arr = np.asarray(value, dtype=dtype) if dtype else np.asarray(value)
    if stack.tf is not None and stack.backend == "tensorflow":
        return stack.tf.convert_to_tensor(arr)
    return stack.keras.ops.convert_to_tensor(arr)


def mask_value(stack: Stack, kind: str, features: int, value: float) -> Any:
    """The mask_value as users write it for this kind; tensor kinds come from the cell's backend."""
    import numpy as np

    if kind == "list":
        return [value] * features
    if kind == "numpy":
        return np.array([value] * features)
    if kind == "float":
        return float(value)
    # tensor-float64 is exactly tf.convert_to_tensor(np.array([0.0, 0.0, 0.0, 0.0])) for the seed settings
    return as_tensor(stack, np.array([value] * features), "float64" if kind == "tensor-float64" else "float32")


def settings(model: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """Model settings with the case's parameters applied (rnn, padding, outputs override the defaults)."""
    cfg = dict(model)
    for key in ("rnn", "padding"):
        if key in params:
            cfg[key] = params[key]
    cfg["return_sequences"] = params.get("outputs", "last") == "sequence"
    cfg["route"] = params.get("route", "plain")
    return cfg


def pad_steps(cfg: dict[str, Any]) -> int:
    """How many timesteps of each sequence hold the mask value."""
    return round(int(cfg["timesteps"]) * float(cfg["pad_fraction"]))


def real_steps(cfg: dict[str, Any]) -> slice:
    """The timesteps that carry data (the rest is padding)."""
    steps, pad = int(cfg["timesteps"]), pad_steps(cfg)
    return slice(0, steps - pad) if cfg["padding"] == "post" else slice(pad, steps)


def padded_batch(cfg: dict[str, Any]) -> Any:
    """A seeded float32 batch whose padded timesteps hold exactly the mask value."""
    import numpy as np

    rng = np.random.default_rng(int(cfg["seed"]))
    batch, steps, feats = int(cfg["batch"]), int(cfg["timesteps"]), int(cfg["features"])
    x = rng.standard_normal((batch, steps, feats)).astype("float32")
    keep = real_steps(cfg)
    padded = np.ones(steps, dtype=bool)
    padded[keep] = False
    x[:, padded, :] = float(cfg["mask"])
    return x


# ---- masking + RNN ----------------------------------------------------------------------------------
def _rnn_layer(keras: Any, cfg: dict[str, Any]) -> Any:
    units, seq = int(cfg["units"]), bool(cfg["return_sequences"])
    if cfg["rnn"] == "bilstm":
        return keras.layers.Bidirectional(keras.layers.LSTM(units, return_sequences=seq))
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}[cfg["rnn"]]
    return layer(units, return_sequences=seq)


def masking_layer(stack: Stack, cfg: dict[str, Any], kind: str) -> Any:
    """The Masking layer of the route: plain Masking, or the registered list-config subclass."""
    from harness import compat

    value = mask_value(stack, kind, int(cfg["features"]), cfg["mask"])
    if cfg["route"] == "custom-layer":
        return compat.list_masking(stack.keras, lambda v: as_tensor(stack, v, "float32"))(mask_value=value)
    return stack.keras.layers.Masking(mask_value=value)


def build_masking_rnn(stack: Stack, cfg: dict[str, Any], params: dict[str, str]) -> Any:
    """Masking -> RNN -> Dense, the shape of the reported bug."""
    keras = stack.keras
    keras.utils.set_random_seed(int(cfg["seed"]))
    return keras.Sequential(
        [
            keras.Input(shape=(int(cfg["timesteps"]), int(cfg["features"]))),
            masking_layer(stack, cfg, params["mask_value"]),
            _rnn_layer(keras, cfg),
            keras.layers.Dense(1),
        ]
    )


def to_numpy(stack: Stack, value: Any) -> Any:
    """A backend tensor (a torch one may require grad) as a numpy array."""
    import numpy as np

    convert = getattr(getattr(stack.keras, "ops", None), "convert_to_numpy", None)
    return np.asarray(convert(value) if convert else value)


def reference_output(stack: Stack, cfg: dict[str, Any], weights: list[Any], x: Any) -> Any:
    """The same weights run without Masking on only the real timesteps: what masking must reproduce."""
    keras = stack.keras
    keep = real_steps(cfg)
    steps = keep.stop - keep.start
    ref = keras.Sequential(
        [keras.Input(shape=(steps, int(cfg["features"]))), _rnn_layer(keras, cfg), keras.layers.Dense(1)]
    )
    ref.set_weights(weights)
    return to_numpy(stack, ref(x[:, keep, :], training=False))


def compare_masked(cfg: dict[str, Any], y: Any, ref: Any, tol: dict[str, float]) -> float:
    """Outputs on padded input must not depend on the padded steps: equal to the unpadded reference."""
    import numpy as np

    got = np.asarray(y)
    if cfg["return_sequences"]:
        got = got[:, real_steps(cfg), :]
    if got.shape != ref.shape:
        raise Mismatch(f"output shape {got.shape} does not match the unpadded reference {ref.shape}")
    diff = float(np.max(np.abs(got.astype("float64") - ref.astype("float64"))))
    if not np.allclose(got, ref, rtol=tol["rtol"], atol=tol["atol"]):
        raise Mismatch(f"padded timesteps change the output: max |output - unpadded reference| = {diff:.3g}")
    return diff


# ---- other Keras objects that take array or tensor constructor values ---------------------------
def _layer_arg_parts(stack: Stack, cfg: dict[str, Any], params: dict[str, str]) -> tuple[Any, Any]:
    """(input layer, layers) of the object case; values are tensors or numpy arrays as the case says."""
    import numpy as np

    keras, feats = stack.keras, int(cfg["features"])

    def v(value: Any, dtype: str) -> Any:
        arr = np.asarray(value, dtype=dtype)
        return as_tensor(stack, arr) if params["value_kind"] == "tensor" else arr

    obj = params["object"]
    if obj == "rescaling":
        return keras.Input(shape=(feats,)), [
            keras.layers.Rescaling(scale=v([2.0] * feats, "float32"), offset=v([0.5] * feats, "float32"))
        ]
    if obj == "normalization":
        return keras.Input(shape=(feats,)), [
            keras.layers.Normalization(mean=v([0.5] * feats, "float32"), variance=v([2.0] * feats, "float32"))
        ]
    if obj == "constant":
        init = keras.initializers.Constant(value=v(0.25, "float32"))
        return keras.Input(shape=(feats,)), [keras.layers.Dense(1, kernel_initializer=init)]
    if obj == "discretization":
        return keras.Input(shape=(feats,)), [keras.layers.Discretization(bin_boundaries=v([-0.5, 0.0, 0.5], "float32"))]
    if obj == "integer-lookup":
        return keras.Input(shape=(feats,), dtype="int64"), [
            keras.layers.IntegerLookup(vocabulary=v([10, 20, 30], "int64"))
        ]
    if obj == "string-lookup":
        return keras.Input(shape=(feats,), dtype="string"), [
            keras.layers.StringLookup(vocabulary=v(["a", "b", "c"], "str"))
        ]
    if obj == "embedding":
        return keras.Input(shape=(feats,), dtype="int32"), [
            keras.layers.Embedding(input_dim=v(8, "int32"), output_dim=v(3, "int32")),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    raise ValueError(f"unknown object {obj!r}")


def build_layer_arg(stack: Stack, cfg: dict[str, Any], params: dict[str, str]) -> Any:
    """Input -> the object under test (-> Dense where the object alone has no weights to compare)."""
    stack.keras.utils.set_random_seed(int(cfg["seed"]))
    inp, layers = _layer_arg_parts(stack, cfg, params)
    return stack.keras.Sequential([inp, *layers])


def layer_arg_input(stack: Stack, cfg: dict[str, Any], params: dict[str, str]) -> Any:
    """A seeded batch of the object's input kind (floats, known/unknown ids, strings).

    Strings go in as a TensorFlow string tensor where TensorFlow is present (Keras 3's predict refuses
    numpy object arrays); without TensorFlow, StringLookup cannot run at all.
    """
    import numpy as np

    rng = np.random.default_rng(int(cfg["seed"]))
    shape = (int(cfg["batch"]), int(cfg["features"]))
    obj = params["object"]
    if obj == "integer-lookup":
        return rng.choice(np.array([10, 20, 30, 99], dtype="int64"), size=shape)
    if obj == "string-lookup":
        words = rng.choice(np.array(["a", "b", "c", "zz"], dtype=object), size=shape)
        return stack.tf.constant(words.astype(str)) if stack.tf is not None else words
    if obj == "embedding":
        return rng.integers(0, 8, size=shape).astype("int32")
    return rng.standard_normal(shape).astype("float32")


# ---- save / load routes -----------------------------------------------------------------------------
def save(stack: Stack, cfg: dict[str, Any], model: Any, workdir: str, fmt: str) -> str:
    """Save the model the route's way; returns what `load` reads."""
    route = cfg["route"]
    if route == "savedmodel":
        path = os.path.join(workdir, "savedmodel")
        if stack.flavor != "keras3":
            model.save(path)  # Keras 2: a path without suffix is a SavedModel
        else:
            if stack.tf is None and not _has_tensorflow():
                raise Skip(f"model.export() to SavedModel needs TensorFlow, which this {stack.backend} cell lacks")
            model.export(path)
        return path
    if route == "weights-only":
        path = os.path.join(workdir, "model.weights.h5")
        model.save_weights(path)
        return path
    path = os.path.join(workdir, "model" + fmt)
    model.save(path)
    return path


def _has_tensorflow() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def load(stack: Stack, cfg: dict[str, Any], path: str, params: dict[str, str]) -> Any:
    """Load the route's artifact back into something that predicts."""
    from harness import compat

    keras, route = stack.keras, cfg["route"]
    if route == "savedmodel":
        if stack.flavor != "keras3":
            return keras.models.load_model(path)
        if stack.backend != "tensorflow":
            raise Skip("keras.layers.TFSMLayer reloads a SavedModel on the tensorflow backend only")
        return keras.layers.TFSMLayer(path, call_endpoint="serve")
    if route == "weights-only":
        rebuilt = build_masking_rnn(stack, cfg, {**params, "mask_value": "list"})
        rebuilt.load_weights(path)
        return rebuilt
    if route == "custom-objects":
        return keras.models.load_model(path, custom_objects={"Masking": compat.tolerant_masking(keras)})
    return keras.models.load_model(path)


def predict(model: Any, x: Any) -> Any:
    """`predict` for Keras models; a direct call for reloaded SavedModel layers (TFSMLayer)."""
    import numpy as np

    if hasattr(model, "predict"):
        return np.asarray(model.predict(x, verbose=0))
    out = model(x)
    if isinstance(out, dict):
        out = next(iter(out.values()))
    return np.asarray(out)


# ---- the case ------------------------------------------------------------------------------------
def build_key(builder: str, model: dict[str, Any], params: dict[str, str]) -> str:
    """Cases with equal keys start from the same model: one build + predict + masking check serves them all."""
    cfg = settings(model, params)
    variant = "list-masking" if cfg.pop("route") == "custom-layer" else "plain"
    given = {k: v for k, v in params.items() if k not in ("format", "route")}
    return json.dumps([builder, cfg, given, variant], sort_keys=True)


@dataclass
class Built:
    """What the shared first stages produced (or the exception that stopped them), per build key."""

    key: str
    stages: list[tuple[str, float, BaseException | None]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    first_case: str = ""


_BUILT: dict[str, Built] = {}


def run_case(
    stack: Stack,
    builder: str,
    model: dict[str, Any],
    tolerance: dict[str, float],
    params: dict[str, str],
    workdir: str,
    on_stage: Callable[[str], None] = lambda name: None,
    case_id: str = "",
) -> CaseResult:
    """Walk the case's stages in order, stopping at the first failure (a mismatch or skip says so).

    build, predict and the masking check run once per build key in a worker; later cases with the same
    key reuse their outcome (`details.shared_build` names the case that ran them).
    """
    import numpy as np

    from harness import repair

    if builder == "fault":
        return run_fault(params["fault"], on_stage)
    result = CaseResult()
    cfg = settings(model, params)
    masking = builder == "masking_rnn"
    x = padded_batch(cfg) if masking else layer_arg_input(stack, cfg, params)
    key = build_key(builder, model, params)
    built = _BUILT.get(key)
    fresh_build = built is None
    if built is None:
        _BUILT.clear()
        stack.keras.backend.clear_session()
        built = _BUILT[key] = Built(key, first_case=case_id)
        shared = built.state

        def build() -> None:
            shared["model"] = (build_masking_rnn if masking else build_layer_arg)(stack, cfg, params)

        def predict_before() -> None:
            shared["before"] = predict(shared["model"], x)

        def masking_before() -> None:
            weights = shared["model"].get_weights()
            shared["ref"] = reference_output(stack, cfg, weights, x)
            shared["masking_diff"] = compare_masked(cfg, shared["before"], shared["ref"], tolerance)

        first: list[tuple[str, Callable[[], None]]] = [("build", build), ("predict", predict_before)]
        if masking:
            first.append(("masking", masking_before))
        for name, fn in first:
            on_stage(name)
            t0 = time.perf_counter()
            try:
                fn()
            except Exception as failure:  # the finding; later cases with this key get the same one
                built.stages.append((name, round(time.perf_counter() - t0, 4), failure))
                break
            built.stages.append((name, round(time.perf_counter() - t0, 4), None))
    else:
        result.details["shared_build"] = built.first_case
    for name, seconds, stopped_by in built.stages:
        result.stage_s[name] = seconds if fresh_build else 0.0
        if stopped_by is not None:
            return _stopped(result, name, stopped_by)
    state = dict(built.state)
    if "masking_diff" in state:
        result.details["masking_diff"] = state["masking_diff"]

    def save_stage() -> None:
        state["path"] = save(stack, cfg, state["model"], workdir, params["format"])

    def repair_stage() -> None:
        fixed = Path(workdir) / "repaired.keras"
        result.details["repaired"] = repair.repair_file(Path(state["path"]), fixed)
        state["path"] = str(fixed)

    def load_stage() -> None:
        state["loaded"] = load(stack, cfg, state["path"], params)

    def predict_after_load() -> None:
        state["after"] = predict(state["loaded"], x)

    def equivalence() -> None:
        before, after = state["before"], state["after"]
        if before.shape != after.shape:
            raise Mismatch(f"output shape changed after load: {before.shape} -> {after.shape}")
        diff = float(np.max(np.abs(before.astype("float64") - after.astype("float64"))))
        result.details["max_abs_diff"] = diff
        if not np.allclose(before, after, rtol=tolerance["rtol"], atol=tolerance["atol"]):
            raise Mismatch(
                f"outputs differ after load: max |before - after| = {diff:.3g} "
                f"(rtol={tolerance['rtol']}, atol={tolerance['atol']})"
            )

    def masking_after_load() -> None:
        result.details["masking_diff_after_load"] = compare_masked(cfg, state["after"], state["ref"], tolerance)

    stages: list[tuple[str, Callable[[], None]]] = [("save", save_stage)]
    if cfg["route"] == "repair":
        stages.append(("repair", repair_stage))
    stages += [("load", load_stage), ("predict_after_load", predict_after_load), ("equivalence", equivalence)]
    if masking:
        stages.append(("masking_after_load", masking_after_load))
    for name, fn in stages:
        on_stage(name)
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as exc:  # a failing stage is the finding we record
            return _stopped(result, name, exc)
        finally:
            result.stage_s[name] = round(time.perf_counter() - t0, 4)
    return result


def run_fault(kind: str, on_stage: Callable[[str], None]) -> CaseResult:
    """Cause the fault for real, so the tests see what a crashing or broken release does to a batch."""
    import ctypes
    import importlib

    if kind == "raise-at-import":
        on_stage("import")
        try:
            importlib.import_module("harness.fault_import")  # raises while it is imported
        except Exception as exc:
            return _stopped(CaseResult(), "import", exc)
        raise AssertionError("harness.fault_import imported without raising")
    on_stage("build")
    if kind == "abort":
        os.abort()  # SIGABRT, as a failed assertion in a native library does
    ctypes.string_at(0)  # a read of address 0: SIGSEGV
    raise AssertionError("the worker survived a segfault")


def _stopped(result: CaseResult, stage: str, exc: BaseException) -> CaseResult:
    result.outcome = "mismatch" if isinstance(exc, Mismatch) else "skip" if isinstance(exc, Skip) else "fail"
    result.failed_stage = stage
    result.error = exc
    return result
