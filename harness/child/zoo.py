"""The zoo: one kit per kind of Keras model people ship, built from small seeded weights, with its seeded inputs.

Each kit builds the same model in Keras 2 (tf.keras, tf-keras) and Keras 3 from the names both share. A kind
a release lacks raises `routes.Skip` with why (its row is `skip`). The registered classes (a custom layer, a
subclassed model) stand for a user's own code: the upgrade paths register them before loading, as importing
that code would (`register`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.child.routes import Skip
from harness.child.stack import Stack

PACKAGE = "maskcompat_zoo"
WORDS = ("the cat sat", "a dog ran far", "the dog sat down", "cats and dogs")
_REGISTERED: dict[str, dict[str, type]] = {}


def register(stack: Stack) -> dict[str, type]:
    """The zoo's own classes, registered with this release under PACKAGE (once per process)."""
    if stack.flavor in _REGISTERED:
        return _REGISTERED[stack.flavor]
    keras = stack.keras
    saving = getattr(keras, "saving", None)
    registrar = getattr(saving, "register_keras_serializable", None) or keras.utils.register_keras_serializable

    @registrar(package=PACKAGE)
    class ScaledDense(keras.layers.Layer):  # type: ignore[misc,name-defined]
        """A user's custom layer: a dense map times a learned scale, with its config."""

        def __init__(self, units: int = 2, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape: Any) -> None:
            self.kernel = self.add_weight(name="kernel", shape=(int(input_shape[-1]), self.units),
                                          initializer="glorot_uniform")  # fmt: skip
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
            super().build(input_shape)

        def call(self, inputs: Any) -> Any:
            return keras.ops.matmul(inputs, self.kernel) * self.scale if hasattr(keras, "ops") else (
                stack.tf.matmul(inputs, self.kernel) * self.scale)  # fmt: skip

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "units": self.units}

    @registrar(package=PACKAGE)
    class TwoTower(keras.Model):  # type: ignore[misc,name-defined]
        """A user's subclassed model: two dense towers summed."""

        def __init__(self, units: int = 3, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units = units
            self.left = keras.layers.Dense(units, activation="relu")
            self.right = keras.layers.Dense(units, activation="tanh")
            self.head = keras.layers.Dense(1)

        def call(self, inputs: Any) -> Any:
            return self.head(self.left(inputs) + self.right(inputs))

        def get_config(self) -> dict[str, Any]:
            return {"units": self.units, "name": self.name}

        @classmethod
        def from_config(cls, config: dict[str, Any]) -> Any:
            return cls(**config)

    _REGISTERED[stack.flavor] = {"ScaledDense": ScaledDense, "TwoTower": TwoTower}
    return _REGISTERED[stack.flavor]


def _ops(stack: Stack) -> Any:
    """Math on symbolic tensors: keras.ops in Keras 3, tf.math in Keras 2 (where TensorFlow is the backend)."""
    return stack.keras.ops if hasattr(stack.keras, "ops") else stack.tf.math


def _words(stack: Stack) -> Any:
    import numpy as np

    if stack.tf is None:
        raise Skip("string inputs need TensorFlow, which this cell lacks")
    return np.array(WORDS)


def _cnn(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    return k.Sequential([k.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"), L.BatchNormalization(),
                         L.MaxPooling2D(), L.Dropout(0.2), L.Flatten(), L.Dense(2)])  # fmt: skip


def _conv1d_text(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    return k.Sequential([k.Input((10,), dtype="int32"), L.Embedding(20, 4), L.Conv1D(4, 3, activation="relu"),
                         L.GlobalMaxPooling1D(), L.Dense(1)])  # fmt: skip


def _embedding_mask_gru(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    return k.Sequential([k.Input((10,), dtype="int32"), L.Embedding(20, 4, mask_zero=True), L.GRU(4), L.Dense(1)])


def _bidirectional_lstm(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    return k.Sequential([k.Input((6, 3)), L.Bidirectional(L.LSTM(4)), L.Dense(1)])


def _transformer(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    inp = k.Input((6, 8))
    att = L.MultiHeadAttention(num_heads=2, key_dim=4)(inp, inp)
    x = L.LayerNormalization()(L.Add()([inp, att]))
    ff = L.Dense(8)(L.Dense(16, activation="relu")(x))
    x = L.LayerNormalization()(L.Add()([x, ff]))
    return k.Model(inp, L.Dense(1)(L.GlobalAveragePooling1D()(x)))


def _normalization(stack: Stack) -> Any:
    import numpy as np

    k, L = stack.keras, stack.keras.layers
    norm = L.Normalization()
    norm.adapt(np.random.default_rng(1).standard_normal((32, 4)).astype("float32") * 3 + 1)
    return k.Sequential([k.Input((4,)), norm, L.Dense(1)])


def _text_vectorization(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    vec = L.TextVectorization(max_tokens=20, output_sequence_length=5)
    vec.adapt(_words(stack))
    return k.Sequential([k.Input((), dtype="string"), vec, L.Embedding(20, 3), L.GlobalAveragePooling1D(),
                         L.Dense(1)])  # fmt: skip


def _string_lookup(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    _words(stack)
    lookup = L.StringLookup(vocabulary=["cat", "dog", "sat"], output_mode="one_hot")
    return k.Sequential([k.Input((1,), dtype="string"), lookup, L.Dense(1)])


def _integer_lookup(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    return k.Sequential([k.Input((3,), dtype="int64"),
                         L.IntegerLookup(vocabulary=[10, 20, 30], output_mode="multi_hot"), L.Dense(1)])  # fmt: skip


def _discretization(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    return k.Sequential([k.Input((3,)), L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5]),
                         L.CategoryEncoding(num_tokens=4, output_mode="multi_hot"), L.Dense(1)])  # fmt: skip


def _hashing(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    return k.Sequential([k.Input((3,), dtype="int64"), L.Hashing(num_bins=8),
                         L.CategoryEncoding(num_tokens=8, output_mode="multi_hot"), L.Dense(1)])  # fmt: skip


def _category_encoding(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    return k.Sequential([k.Input((3,), dtype="int32"), L.CategoryEncoding(num_tokens=5, output_mode="count"),
                         L.Dense(1)])  # fmt: skip


def _multi_io(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    steps, static = k.Input((6, 3), name="steps"), k.Input((4,), name="static")
    x = L.Concatenate()([L.GRU(4)(steps), L.Dense(4, activation="relu")(static)])
    return k.Model([steps, static], [L.Dense(1, name="score")(x), L.Dense(3, name="classes")(x)])


def _custom_layer(stack: Stack) -> Any:
    k = stack.keras
    return k.Sequential([k.Input((4,)), register(stack)["ScaledDense"](units=2)])


def _subclassed_model(stack: Stack) -> Any:
    import numpy as np

    model = register(stack)["TwoTower"](units=3)
    model(np.zeros((1, 4), "float32"))  # built, so its weights exist to save
    return model


def _mixed_precision(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    return k.Sequential([k.Input((4,)), L.Dense(8, activation="relu", dtype="mixed_float16"),
                         L.Dense(1, dtype="float32")])  # fmt: skip


def _time_distributed(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    return k.Sequential([k.Input((5, 4)), L.TimeDistributed(L.Dense(3)), L.Flatten(), L.Dense(1)])


def _backend_ops(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    inp = k.Input((4,))
    x = _ops(stack).tanh(L.Dense(4)(inp) * 2.0 + 1.0)
    return k.Model(inp, L.Dense(1)(x))


def _compiled(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    model = k.Sequential([k.Input((4,)), L.Dense(8, activation="tanh"), L.Dense(1)])
    model.compile(optimizer=k.optimizers.SGD(learning_rate=0.1, momentum=0.9), loss="mse")
    x = batch(stack, {"seed": 0, "batch": 4}, {"kind": "compiled"})
    model.train_on_batch(x, target(x))  # the optimizer has state (momentum) that the file must keep
    return model


def _lambda(stack: Stack) -> Any:
    k, L = stack.keras, stack.keras.layers
    return k.Sequential([k.Input((4,)), L.Lambda(lambda t: t * 2.0), L.Dense(1)])


KITS: dict[str, Callable[[Stack], Any]] = {
    "cnn": _cnn,
    "conv1d-text": _conv1d_text,
    "embedding-mask-gru": _embedding_mask_gru,
    "bidirectional-lstm": _bidirectional_lstm,
    "transformer": _transformer,
    "normalization": _normalization,
    "text-vectorization": _text_vectorization,
    "string-lookup": _string_lookup,
    "integer-lookup": _integer_lookup,
    "discretization": _discretization,
    "hashing": _hashing,
    "category-encoding": _category_encoding,
    "multi-io": _multi_io,
    "custom-layer": _custom_layer,
    "subclassed-model": _subclassed_model,
    "mixed-precision": _mixed_precision,
    "time-distributed": _time_distributed,
    "backend-ops": _backend_ops,
    "lambda": _lambda,
    "compiled": _compiled,
}
TRAINED = ("compiled",)  # kinds whose outputs are a training step's loss and weights, not predictions


def target(x: Any) -> Any:
    """The compiled kind's training target for a batch: fixed by the inputs."""
    import numpy as np

    return np.tanh(np.asarray(x, "float32").sum(axis=1, keepdims=True))


def train_step(stack: Stack, model: Any, x: Any) -> Any:
    """One training step on the batch: its loss and every weight after it, in one array; the model's weights and
    optimizer state are put back, so the model saves as it was."""
    import numpy as np

    opt = getattr(model, "optimizer", None)
    if not hasattr(model, "train_on_batch"):
        raise Skip("a reloaded SavedModel layer (TFSMLayer) serves; it does not train")
    if opt is None:
        raise RuntimeError("the loaded model has no optimizer: it was not compiled from the file")
    slots = opt.variables() if callable(opt.variables) else opt.variables
    kept = model.get_weights(), [np.array(v) for v in slots]
    if hasattr(model, "reset_metrics"):
        model.reset_metrics()  # Keras 3.0-3.6 return the running mean of every step's loss, not this step's
    loss = model.train_on_batch(x, target(x))
    after = model.get_weights()
    model.set_weights(kept[0])
    for v, value in zip(slots, kept[1], strict=True):
        v.assign(value)
    losses = np.atleast_1d(np.asarray(loss, "float64")).ravel()
    return np.concatenate([losses, *(np.asarray(w, "float64").ravel() for w in after)])


def static_kinds(path: str) -> list[str] | None:
    """The zoo's kinds a saved whole-model file reads as from its config alone (`check`'s static pass); None for a
    file without a config (weights, SavedModel)."""
    import json
    import zipfile

    from harness.decl import zoo_match

    if path.endswith(".keras") and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return zoo_match.kinds(json.loads(archive.read("config.json")))
    if path.endswith((".keras", ".h5")) and not path.endswith(".weights.h5"):
        import h5py

        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            if raw is None:
                return None
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            return zoo_match.kinds(config, "training_config" in f.attrs)
    return None


def build(stack: Stack, cfg: dict[str, Any], params: dict[str, str]) -> Any:
    """The kind's model, from the scenario's seed."""
    stack.keras.utils.set_random_seed(int(cfg["seed"]))
    return KITS[params["kind"]](stack)


def batch(stack: Stack, cfg: dict[str, Any], params: dict[str, str]) -> Any:
    """The kind's seeded inputs (a list for a model of several inputs)."""
    import numpy as np

    rng = np.random.default_rng(int(cfg["seed"]))
    n, kind = int(cfg["batch"]), params["kind"]
    if kind == "cnn":
        return rng.standard_normal((n, 8, 8, 1)).astype("float32")
    if kind in ("conv1d-text", "embedding-mask-gru"):
        x = rng.integers(1, 20, size=(n, 10)).astype("int32")
        x[:, 7:] = 0  # padding, masked by mask_zero where the model masks
        return x
    if kind == "bidirectional-lstm":
        return rng.standard_normal((n, 6, 3)).astype("float32")
    if kind == "transformer":
        return rng.standard_normal((n, 6, 8)).astype("float32")
    if kind in ("text-vectorization", "string-lookup"):  # without TensorFlow the kit skips at build
        words = rng.choice(np.array(WORDS), size=(n,)) if kind == "text-vectorization" else rng.choice(
            np.array(["cat", "dog", "sat", "zebra"]), size=(n, 1))  # fmt: skip
        return stack.tf.constant(words) if stack.tf is not None else words
    if kind in ("integer-lookup", "hashing"):
        return rng.choice(np.array([10, 20, 30, 99], dtype="int64"), size=(n, 3))
    if kind == "category-encoding":
        return rng.integers(0, 5, size=(n, 3)).astype("int32")
    if kind == "discretization":
        return rng.standard_normal((n, 3)).astype("float32")
    if kind == "multi-io":
        return [rng.standard_normal((n, 6, 3)).astype("float32"), rng.standard_normal((n, 4)).astype("float32")]
    if kind == "time-distributed":
        return rng.standard_normal((n, 5, 4)).astype("float32")
    return rng.standard_normal((n, 4)).astype("float32")
