"""The framework floor: the masked LSTM written directly in the backend, with the Keras model's weights.

Keras time divided by this time says how much the Keras layers cost over what the framework itself does.
Each floor returns a zero-argument callable that runs the whole batch and waits for the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def lstm_weights(model: Any) -> tuple[Any, Any, Any, Any, Any]:
    """(kernel, recurrent_kernel, bias, dense_kernel, dense_bias) of a Masking -> LSTM -> Dense model, as numpy."""
    import numpy as np

    arrays = [np.asarray(w, dtype="float32") for w in model.get_weights()]
    if len(arrays) != 5:
        raise ValueError(
            f"expected 5 weight arrays (LSTM kernel, recurrent, bias; Dense kernel, bias), got {len(arrays)}"
        )
    kernel, recurrent, bias, dense_k, dense_b = arrays
    return kernel, recurrent, bias, dense_k, dense_b


def tensorflow_floor(tf: Any, model: Any, x: Any, lengths: Any) -> Callable[[], Any]:
    """A `tf.function` over raw ops: one input matmul, a `tf.foldl` over time, state kept where masked."""
    kernel, recurrent, bias, dense_k, dense_b = (tf.constant(w) for w in lstm_weights(model))
    xs = tf.constant(x)
    steps = int(x.shape[1])
    mask = tf.sequence_mask(tf.constant(lengths), steps)

    @tf.function  # type: ignore[untyped-decorator]
    def run(xs: Any, mask: Any) -> Any:
        z_in = tf.einsum("btf,fg->tbg", xs, kernel) + bias
        keep = tf.transpose(mask)[:, :, None]
        batch, units = tf.shape(xs)[0], tf.shape(recurrent)[0]
        zero = tf.zeros((batch, units), xs.dtype)

        def step(state: Any, inputs: Any) -> Any:
            h, c = state
            z, m = inputs
            i, f, g, o = tf.split(z + tf.matmul(h, recurrent), 4, axis=1)
            c2 = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h2 = tf.sigmoid(o) * tf.tanh(c2)
            return (tf.where(m, h2, h), tf.where(m, c2, c))

        h, _ = tf.foldl(step, (z_in, keep), initializer=(zero, zero))
        return tf.matmul(h, dense_k) + dense_b

    return lambda: run(xs, mask).numpy()


def jax_floor(model: Any, x: Any, lengths: Any) -> Callable[[], Any]:
    """A jitted `lax.scan` LSTM on the default jax device, weights passed as arguments.

    The input projection stays inside the step: precomputing it for all steps (as the TensorFlow floor
    does) made the scan twice as slow on XLA:CPU.
    """
    import jax
    import jax.numpy as jnp

    weights = tuple(jnp.asarray(w) for w in lstm_weights(model))
    steps = int(x.shape[1])
    xs = jnp.asarray(x)
    mask = jnp.arange(steps)[None, :] < jnp.asarray(lengths)[:, None]

    @jax.jit  # type: ignore[untyped-decorator]
    def run(xs: Any, mask: Any, kernel: Any, recurrent: Any, bias: Any, dense_k: Any, dense_b: Any) -> Any:
        zero = jnp.zeros((xs.shape[0], recurrent.shape[0]), xs.dtype)

        def step(state: Any, inputs: Any) -> Any:
            h, c = state
            xt, m = inputs
            i, f, g, o = jnp.split(xt @ kernel + h @ recurrent + bias, 4, axis=1)
            c2 = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h2 = jax.nn.sigmoid(o) * jnp.tanh(c2)
            return (jnp.where(m, h2, h), jnp.where(m, c2, c)), None

        (h, _), _ = jax.lax.scan(step, (zero, zero), (jnp.swapaxes(xs, 0, 1), mask.T[:, :, None]))
        return h @ dense_k + dense_b

    return lambda: run(xs, mask, *weights).block_until_ready()


def torch_floor(model: Any, x: Any, lengths: Any) -> Callable[[], Any]:
    """`torch.nn.LSTM` on a packed sequence (cuDNN on a GPU), under `inference_mode`."""
    import torch

    kernel, recurrent, bias, dense_k, dense_b = lstm_weights(model)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    units = recurrent.shape[0]
    lstm = torch.nn.LSTM(kernel.shape[0], units, batch_first=True)
    dense = torch.nn.Linear(units, dense_k.shape[1])
    with torch.no_grad():
        # Keras and torch order the gates alike (input, forget, cell, output); torch keeps two biases.
        lstm.weight_ih_l0.copy_(torch.from_numpy(kernel.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(recurrent.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(bias))
        lstm.bias_hh_l0.zero_()
        dense.weight.copy_(torch.from_numpy(dense_k.T.copy()))
        dense.bias.copy_(torch.from_numpy(dense_b))
    lstm, dense = lstm.to(device).eval(), dense.to(device).eval()
    xs = torch.from_numpy(x).to(device)
    lens = torch.as_tensor(lengths, dtype=torch.int64)  # pack_padded_sequence wants lengths on the CPU

    def run() -> Any:
        with torch.inference_mode():
            packed = torch.nn.utils.rnn.pack_padded_sequence(xs, lens, batch_first=True, enforce_sorted=False)
            _, (h, _) = lstm(packed)
            out = dense(h[-1])
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    return run


def floor(backend: str, tf: Any, model: Any, x: Any, lengths: Any) -> Callable[[], Any]:
    """The floor for the cell's backend."""
    if backend == "tensorflow":
        return tensorflow_floor(tf, model, x, lengths)
    if backend == "jax":
        return jax_floor(model, x, lengths)
    if backend == "torch":
        return torch_floor(model, x, lengths)
    raise ValueError(f"no floor for backend {backend!r}")
