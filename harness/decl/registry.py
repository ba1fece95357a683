"""The ids scenario files may use, per builder, and the child handler that runs each builder's cases.

Kept free of framework imports so the parent validates scenario files without TensorFlow; the child's
code registers a function for every id listed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harness.decl import handlers
from harness.decl.handlers import Handler

Types = type | tuple[type, ...]

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
# The zoo's kinds of model (harness/child/zoo.py builds each).
ZOO_KINDS = (
    "cnn",
    "conv1d-text",
    "embedding-mask-gru",
    "bidirectional-lstm",
    "transformer",
    "normalization",
    "text-vectorization",
    "string-lookup",
    "integer-lookup",
    "discretization",
    "hashing",
    "category-encoding",
    "multi-io",
    "custom-layer",
    "subclassed-model",
    "mixed-precision",
    "time-distributed",
    "backend-ops",
    "lambda",
    "compiled",
)
# Faults the harness must survive, caused for real by a case (its fault tests; never in scenarios/).
FAULTS = ("abort", "segfault", "raise-at-import")
ANY = ("*",)  # a parameter whose values are free ids (cross-load: any cell id the scenario's `cells` lists)
NUMBER = ("#",)  # a parameter whose values are non-negative numbers, written as strings (the sweep's shapes)
SWEEP_MODELS = ("masked", "unmasked", "real-work")  # real-work: the same weights, unmasked, on the real steps only


def is_number(value: object) -> bool:
    """A non-negative finite number written as a string (`"512"`, `"0.25"`)."""
    import math

    try:
        number = float(value) if isinstance(value, str) and value.strip() == value and value else -1.0
    except ValueError:
        return False
    return math.isfinite(number) and number >= 0


# The masked-RNN model's settings, shared by the builders that make it.
RNN_MODEL: dict[str, Types] = {
    "units": int,
    "timesteps": int,
    "features": int,
    "batch": int,
    "pad_fraction": (int, float),
    "seed": int,
}
BENCH_KEYS: dict[str, Types] = {
    "rounds": int,
    "samples": int,
    "warmup": int,
    "min_sample_s": (int, float),
    "case_budget_s": (int, float),
    "threads": int,
    "cpu": int,
}
BENCH_OPTIONAL: dict[str, Types] = {
    "warm_sweeps": int,  # untimed round-robin sweeps before calibration (default 0)
    "compile_cache": int,  # 1: a jax cell's later processes of a run load what its first compiled (default 0)
}
MIN_SAMPLES = 3


@dataclass(frozen=True)
class Builder:
    """What a scenario naming this builder may declare, and which child handler runs its cases."""

    param_ids: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    model_keys: dict[str, Types]
    handler: Handler


BUILDERS: dict[str, Builder] = {
    "masking_rnn": Builder(
        {
            "mask_value": MASK_VALUE_KINDS,
            "format": FORMATS,
            "route": ROUTES,
            "rnn": RNN_KINDS,
            "outputs": OUTPUTS,
            "padding": PADDINGS,
        },
        ("mask_value", "format"),
        {**RNN_MODEL, "rnn": str, "padding": str, "mask": (int, float)},
        handlers.CASES,
    ),
    "layer_arg": Builder(
        {"object": OBJECTS, "value_kind": VALUE_KINDS, "format": (".keras", ".h5")},
        ("object", "value_kind", "format"),
        {"features": int, "batch": int, "seed": int},
        handlers.CASES,
    ),
    "zoo": Builder(
        {"kind": ZOO_KINDS, "format": FORMATS, "route": ("plain", "weights-only", "savedmodel")},
        ("kind", "format"),
        {"batch": int, "seed": int},
        handlers.CASES,
    ),
    "fault": Builder({"fault": FAULTS}, ("fault",), {}, handlers.CASES),
    "latency": Builder(
        {
            "rnn": ("lstm", "gru"),
            "model": ("masked", "unmasked", "reloaded", "floor"),
            "call": ("predict_on_batch", "call", "direct"),
        },
        ("rnn", "model", "call"),
        RNN_MODEL,
        handlers.LATENCY,
    ),
    "sweep": Builder(
        {
            "rnn": ("lstm", "gru"),
            "model": SWEEP_MODELS,
            "timesteps": NUMBER,
            "batch": NUMBER,
            "units": NUMBER,
            "pad": NUMBER,
        },
        ("rnn", "model", "timesteps", "batch", "units", "pad"),
        RNN_MODEL,
        handlers.SWEEP,
    ),
    "upgrade": Builder({}, (), {}, handlers.UPGRADE),  # cases: the files its `sources` saved, in every cell
    "crossload": Builder(
        {"mask_value": ("list", "tensor-float64", "numpy", "float"), "format": (".keras", ".h5"), "saved_by": ANY},
        ("mask_value", "format", "saved_by"),
        RNN_MODEL,
        handlers.CROSSLOAD,
    ),
}


def settings(model: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """Model settings with the case's parameters applied (rnn, padding, outputs and route override the defaults)."""
    cfg = dict(model)
    for key in ("rnn", "padding"):
        if key in params:
            cfg[key] = params[key]
    cfg["return_sequences"] = params.get("outputs", "last") == "sequence"
    cfg["route"] = params.get("route", "plain")
    return cfg


def build_key(builder: str, model: dict[str, Any], params: dict[str, str]) -> str:
    """Cases with equal keys start from the same model: one build + predict + masking check serves them all."""
    cfg = settings(model, params)
    variant = "list-masking" if cfg.pop("route") == "custom-layer" else "plain"
    given = {k: v for k, v in params.items() if k not in ("format", "route")}
    return json.dumps([builder, cfg, given, variant], sort_keys=True)
