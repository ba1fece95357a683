"""Save/load routes: how each published workaround writes a model and reads it back into something that predicts."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

from harness.child import compat
from harness.child.stack import Stack


class Skip(Exception):
    """The route does not exist in this cell; the message says why."""


def save(stack: Stack, cfg: dict[str, Any], model: Any, workdir: str, fmt: str) -> str:
    """Save the model the route's way; returns what `load` reads."""
    route = cfg["route"]
    if route == "savedmodel":
        path = os.path.join(workdir, "savedmodel")
        if stack.flavor != "keras3":
            model.save(path)  # Keras 2: a path without suffix is a SavedModel
        else:
            if stack.tf is None and importlib.util.find_spec("tensorflow") is None:
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


def load(stack: Stack, cfg: dict[str, Any], path: str, rebuild: Callable[[], Any]) -> Any:
    """Load the route's artifact back into something that predicts (`rebuild`: the weights-only route's model)."""
    keras, route = stack.keras, cfg["route"]
    if route == "savedmodel":
        if stack.flavor != "keras3":
            return keras.models.load_model(path)
        if stack.backend != "tensorflow":
            raise Skip("keras.layers.TFSMLayer reloads a SavedModel on the tensorflow backend only")
        return keras.layers.TFSMLayer(path, call_endpoint="serve")
    if route == "weights-only":
        rebuilt = rebuild()
        rebuilt.load_weights(path)
        return rebuilt
    if route == "custom-objects":
        return keras.models.load_model(path, custom_objects={"Masking": compat.tolerant_masking(keras)})
    return keras.models.load_model(path)


def joined(outputs: Any, convert: Callable[[Any], Any]) -> Any:
    """One array of a model's outputs: a model of several outputs gives them side by side per sample (float64 where
    they differ in dtype), in order (by name for a SavedModel layer's dict)."""
    import numpy as np

    if isinstance(outputs, dict):
        outputs = [outputs[k] for k in sorted(outputs)] if len(outputs) > 1 else next(iter(outputs.values()))
    if not isinstance(outputs, list | tuple):
        return convert(outputs)
    parts = [np.asarray(convert(o)) for o in outputs]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p.reshape(len(p), -1).astype("float64") for p in parts], axis=1)


def call(stack: Stack, model: Any, x: Any) -> Any:
    """One direct call of the model on the batch, as serving code makes it: no predict loop, nothing traced."""
    from harness.child.kit import to_numpy

    out = model(x, training=False) if hasattr(model, "predict") else model(x)
    return joined(out, lambda o: to_numpy(stack, o))


def predict(model: Any, x: Any) -> Any:
    """`predict` for Keras models; a direct call for reloaded SavedModel layers (TFSMLayer)."""
    import numpy as np

    out = model.predict(x, verbose=0) if hasattr(model, "predict") else model(x)
    return joined(out, np.asarray)
