"""Which of the zoo's kinds (`scenarios/zoo.toml`) a saved model is made of, read from its config alone: `check`
quotes those kinds' rows for a user's file, and each zoo case records what its own file reads as, so the report
can say how often that reading predicts what loading does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# The layer classes that mark a kind.
CLASSES = {
    "cnn": {"Conv2D"},
    "conv1d-text": {"Conv1D"},
    "bidirectional-lstm": {"Bidirectional"},
    "transformer": {"MultiHeadAttention"},
    "normalization": {"Normalization"},
    "text-vectorization": {"TextVectorization"},
    "string-lookup": {"StringLookup"},
    "integer-lookup": {"IntegerLookup"},
    "discretization": {"Discretization"},
    "hashing": {"Hashing"},
    "category-encoding": {"CategoryEncoding"},
    "time-distributed": {"TimeDistributed"},
    "lambda": {"Lambda"},
    "backend-ops": {"TFOpLambda", "SlicingOpLambda"},  # Keras 2's ops in a graph; Keras 3's by their module
}
OWN = ("keras", "tf_keras")  # the top-level modules of Keras' own namespaces
OP_MODULES = ("keras.src.ops", "keras.ops")  # Keras 3 writes an op in a Functional graph under these
RNNS = {"GRU", "LSTM", "SimpleRNN"}
MODELS = ("Sequential", "Functional", "Model")
QUOTED = 3  # `check` quotes the rows of this many kinds at most


def nodes(config: Any) -> Iterator[dict[str, Any]]:
    """Every dict in the config that names a class, in order."""
    if isinstance(config, dict):
        if isinstance(config.get("class_name"), str):
            yield config
        for v in config.values():
            yield from nodes(v)
    elif isinstance(config, list):
        for v in config:
            yield from nodes(v)


def layer_classes(config: Any) -> list[str]:
    """Every `class_name` in the config, in order."""
    return [n["class_name"] for n in nodes(config)]


def tensors(spec: Any) -> int:
    """How many tensors a Functional config's `input_layers`/`output_layers` names: Keras 3 writes one as a flat
    `["name", 0, 0]`, Keras 2 as `[["name", 0, 0]]`, several as a list of those (or a dict by name)."""
    if isinstance(spec, dict):
        return len(spec)
    if not isinstance(spec, list) or not spec:
        return 0
    return 1 if isinstance(spec[0], str) else len(spec)


def own_class(node: dict[str, Any]) -> bool:
    """A class of the user's own: registered under a package (`package>Name`) or a module outside Keras'."""
    name, module = str(node["class_name"]), node.get("module")
    if ">" in name and not name.startswith(tuple(f"{m}>" for m in OWN)):
        return True
    return bool(node.get("registered_name")) and not str(module or "").startswith(OWN)


def op(node: dict[str, Any]) -> bool:
    """A Keras 3 op in a Functional graph: written under an ops module (`.keras`), or in `.h5` as a layer whose config
    is its name alone (every layer's config has more: `trainable`, `dtype`, ...)."""
    if str(node.get("module") or "").startswith(OP_MODULES):
        return True
    cfg = node.get("config")
    layer = "inbound_nodes" in node and node["class_name"] != "InputLayer"
    return layer and isinstance(cfg, dict) and set(cfg) <= {"name"}


def kinds(config: dict[str, Any] | None, compiled: bool = False) -> list[str]:
    """The kinds the model is made of: layer classes, a masked Embedding feeding a recurrent layer, several inputs
    or outputs, a mixed-precision policy, classes of the user's own, a subclassed model, a compiled model
    (`compiled`: the file keeps a training config)."""
    config = config if isinstance(config, dict) else {}
    found = list(nodes(config))
    classes = {str(n["class_name"]) for n in found}
    text = repr(config)
    out = [k for k, marks in CLASSES.items() if classes & marks]
    inner: dict[str, Any] = config["config"] if isinstance(config.get("config"), dict) else {}
    if any(op(n) for n in found) and "backend-ops" not in out:
        out.append("backend-ops")
    if "Embedding" in classes and "'mask_zero': True" in text and classes & RNNS:
        out.append("embedding-mask-gru")
    if tensors(inner.get("input_layers")) > 1 or tensors(inner.get("output_layers")) > 1:
        out.append("multi-io")
    if "mixed_float16" in text or "mixed_bfloat16" in text:
        out.append("mixed-precision")
    top = config.get("class_name")
    if top and top not in MODELS:
        out.append("subclassed-model")
    elif any(own_class(n) for n in found):
        out.append("custom-layer")
    if compiled or config.get("compile_config"):
        out.append("compiled")
    return out
