"""The one model kit: the padded input, the mask value as users write it, and Masking -> RNN -> Dense.

Every handler builds its masked-RNN models and inputs here, so a case, a timing and a cross-load file
start from the same model for the same settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.child.stack import Stack


def pad_steps(cfg: dict[str, Any]) -> int:
    """How many timesteps of each sequence hold the mask value."""
    return round(int(cfg["timesteps"]) * float(cfg["pad_fraction"]))


def real_steps(cfg: dict[str, Any]) -> slice:
    """The timesteps that carry data (the rest is padding, at the end unless `padding` is `pre`)."""
    steps, pad = int(cfg["timesteps"]), pad_steps(cfg)
    return slice(pad, steps) if cfg.get("padding", "post") == "pre" else slice(0, steps - pad)


def padded_batch(cfg: dict[str, Any]) -> Any:
    """A seeded float32 batch whose padded timesteps hold exactly the mask value (default 0)."""
    import numpy as np

    rng = np.random.default_rng(int(cfg["seed"]))
    batch, steps, feats = int(cfg["batch"]), int(cfg["timesteps"]), int(cfg["features"])
    x = rng.standard_normal((batch, steps, feats)).astype("float32")
    padded = np.ones(steps, dtype=bool)
    padded[real_steps(cfg)] = False
    x[:, padded, :] = float(cfg.get("mask", 0.0))
    return x


def lengths(cfg: dict[str, Any]) -> Any:
    """Each sequence's number of real timesteps (every sequence of the batch has the same)."""
    import numpy as np

    return np.full((int(cfg["batch"]),), int(cfg["timesteps"]) - pad_steps(cfg), dtype="int64")


def as_tensor(stack: Stack, value: Any, dtype: str | None = None) -> Any:
    """A tensor of the cell's backend, built the way users build one (tf.convert_to_tensor on TensorFlow)."""
    import numpy as np

    arr = np.asarray(value, dtype=dtype) if dtype else np.asarray(value)
    if stack.tf is not None and stack.backend == "tensorflow":
        return stack.tf.convert_to_tensor(arr)
    return stack.keras.ops.convert_to_tensor(arr)


def mask_value(stack: Stack, kind: str, features: int, value: float = 0.0) -> Any:
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


def rnn_layer(keras: Any, rnn: str, units: int, return_sequences: bool = False) -> Any:
    """LSTM, GRU, SimpleRNN or Bidirectional(LSTM)."""
    if rnn == "bilstm":
        return keras.layers.Bidirectional(keras.layers.LSTM(units, return_sequences=return_sequences))
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}[rnn]
    return layer(units, return_sequences=return_sequences)


def masked_rnn(
    stack: Stack, cfg: dict[str, Any], masking: Callable[[], Any] | None = None, *, seed: bool = True
) -> Any:
    """Input -> [masking()] -> RNN -> Dense(1), the shape of the reported bug; seeded weights unless `seed` is off.

    `masking` makes the masking layer (None: no masking); it is called after the seed is set, as users write it.
    """
    keras = stack.keras
    if seed:
        keras.utils.set_random_seed(int(cfg["seed"]))
    body = [keras.Input(shape=(int(cfg["timesteps"]), int(cfg["features"])))]
    if masking is not None:
        body.append(masking())
    rnn = rnn_layer(keras, str(cfg.get("rnn", "lstm")), int(cfg["units"]), bool(cfg.get("return_sequences")))
    return keras.Sequential([*body, rnn, keras.layers.Dense(1)])


def to_numpy(stack: Stack, value: Any) -> Any:
    """A backend tensor (a torch one may require grad, or live on a GPU) as a numpy array."""
    import numpy as np

    convert = getattr(getattr(stack.keras, "ops", None), "convert_to_numpy", None)
    return np.asarray(convert(value) if convert else value)
