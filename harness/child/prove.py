"""The `prove` handler: a repaired `.keras` file loads and predicts as the original wherever the original runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.child.compat import tolerant_masking
from harness.child.stack import Stack
from harness.rewrite import plain


def _outputs(model: Any, x: Any) -> Any:
    import numpy as np

    return np.asarray(model.predict(x, verbose=0))


def probe_input(model: Any, mask_value: Any, seed: int = 0) -> Any:
    """A float32 batch for the model's input shape whose last quarter of timesteps holds the mask value."""
    import numpy as np

    shape = tuple(int(d) for d in model.input_shape[1:])
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, *shape)).astype("float32")
    if len(shape) == 2 and mask_value is not None:
        pad = max(1, shape[0] // 4)
        x[:, shape[0] - pad :, :] = np.asarray(mask_value, dtype="float32")
    return x


def prove(keras: Any, original: str, repaired: str, probe: Any, rtol: float, atol: float) -> str:
    """Load and run the repaired file; compare with the original wherever the original still runs.

    Returns how the proof was made; raises AssertionError when outputs differ beyond the tolerance.
    """
    import numpy as np

    got = _outputs(keras.models.load_model(repaired), probe)
    attempts = [
        ("the original file, loaded as is", {}),
        ("the original file, loaded with custom_objects", {"custom_objects": {"Masking": tolerant_masking(keras)}}),
    ]
    for how, kwargs in attempts:
        try:
            want = _outputs(keras.models.load_model(original, **kwargs), probe)
        except Exception:  # the bug itself: this way of loading the original does not run here
            continue
        diff = float(np.max(np.abs(want.astype("float64") - got.astype("float64"))))
        if want.shape != got.shape or not np.allclose(want, got, rtol=rtol, atol=atol):
            raise AssertionError(f"repaired model differs from {how}: max |diff| = {diff:.3g}")
        return f"predicts as {how} (max |diff| = {diff:.3g})"
    return (
        "loads and predicts; the original does not run on this release, so the proof rests on the rewrite: "
        "only tagged values changed and the weights were copied byte for byte"
    )


def handle(stack: Stack, req: dict[str, Any], stage: Callable[[str], None]) -> dict[str, Any]:
    """Load the repaired file, build a probe batch from it, and compare with the original."""
    keras = stack.keras
    stage("load")
    model = keras.models.load_model(req["repaired"])
    mask = next((layer.mask_value for layer in model.layers if hasattr(layer, "mask_value")), None)
    stage("equivalence")
    how = prove(keras, req["original"], req["repaired"], probe_input(model, plain(mask)), req["rtol"], req["atol"])
    return {"outcome": "ok", "proof": how}
