"""The `prove` handler: a repaired `.keras` file loads and predicts as the original wherever the original runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.child.check import make_inputs
from harness.child.compat import tolerant_masking
from harness.child.stack import Stack


def _outputs(model: Any, xs: list[Any]) -> Any:
    import numpy as np

    out = model.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
    return np.concatenate([np.asarray(o).reshape(-1) for o in (out if isinstance(out, list) else [out])])


def prove(keras: Any, original: str, repaired: str, probe: list[Any], rtol: float, atol: float) -> str:
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
    """Load the repaired file, build its inputs the way `check` does (every input, unknown dimensions filled, the
    last quarter of timesteps padded with the mask value), and compare with the original."""
    keras = stack.keras
    stage("load")
    model = keras.models.load_model(req["repaired"])
    stage("equivalence")
    xs, _ = make_inputs(model)
    how = prove(keras, req["original"], req["repaired"], xs, req["rtol"], req["atol"])
    return {"outcome": "ok", "proof": how}
