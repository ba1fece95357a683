"""Other Keras objects that take array or tensor constructor values: the bug class beyond Masking."""

from __future__ import annotations

from typing import Any

from harness.child.kit import as_tensor
from harness.child.stack import Stack


def _parts(stack: Stack, cfg: dict[str, Any], params: dict[str, str]) -> tuple[Any, Any]:
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


def build(stack: Stack, cfg: dict[str, Any], params: dict[str, str]) -> Any:
    """Input -> the object under test (-> Dense where the object alone has no weights to compare)."""
    stack.keras.utils.set_random_seed(int(cfg["seed"]))
    inp, layers = _parts(stack, cfg, params)
    return stack.keras.Sequential([inp, *layers])


def batch(stack: Stack, cfg: dict[str, Any], params: dict[str, str]) -> Any:
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
