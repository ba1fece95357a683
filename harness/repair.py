"""Rewrite a `.keras` file whose config holds tagged tensors/arrays into plain values, then prove it.

The rewrite is pure zip + JSON (no framework needed); the proof loads the original through the
`custom_objects` route and the repaired file normally, and compares their predictions.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from harness.compat import TAGS, plain, untag
from harness.errors import UserError

CONFIG = "config.json"


def _walk(node: Any, path: str, changes: list[str]) -> Any:
    if isinstance(node, dict):
        if node.get("class_name") in TAGS and isinstance(node.get("config"), dict):
            changes.append(f"{path}: {node['class_name']} -> list")
            return untag(node)
        return {k: _walk(v, f"{path}/{k}", changes) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, f"{path}[{i}]", changes) for i, v in enumerate(node)]
    return node


def repair_config(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The config with every tagged tensor/array replaced by its plain value, and where that happened."""
    changes: list[str] = []
    fixed = _walk(config, "", changes)
    return fixed, changes


def repair_file(src: Path, dst: Path) -> list[str]:
    """Write `dst`: `src` with its config repaired and every other member copied unchanged."""
    if not src.is_file():
        raise UserError(f"{src}: no such file")
    if not zipfile.is_zipfile(src):
        raise UserError(f"{src}: not a .keras (zip) file")
    with zipfile.ZipFile(src) as zin:
        names = zin.namelist()
        if CONFIG not in names:
            raise UserError(f"{src}: has no {CONFIG}; is it a Keras v3 (.keras) file?")
        try:
            config = json.loads(zin.read(CONFIG))
        except json.JSONDecodeError as exc:
            raise UserError(f"{src}: {CONFIG} is not valid JSON ({exc.msg})") from None
        fixed, changes = repair_config(config)
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", dir=dst.parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zout:
                for info in zin.infolist():
                    data = json.dumps(fixed).encode() if info.filename == CONFIG else zin.read(info)
                    zout.writestr(info, data)
            os.replace(tmp, dst)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return changes


def _outputs(model: Any, x: Any) -> Any:
    import numpy as np

    return np.asarray(model.predict(x, verbose=0))


def prove(keras: Any, original: Path, repaired: Path, probe: Any, rtol: float, atol: float) -> str:
    """Load and run the repaired file; compare with the original wherever the original still runs.

    Returns how the proof was made; raises AssertionError when outputs differ beyond the tolerance.
    """
    import numpy as np

    from harness.compat import tolerant_masking

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


def main(src: Path, dst: Path, check: bool) -> int:
    """Command body of `python -m harness repair`: rewrite, report changes, optionally prove equivalence."""
    if src.resolve() == dst.resolve():
        raise UserError("repair writes a new file: OUT must differ from IN")
    changes = repair_file(src, dst)
    if not changes:
        print(f"{src}: nothing tagged to repair; copied to {dst}")
    for change in changes:
        print(f"repaired {change}")
    if not check:
        return 0
    keras = _import_keras()
    model = keras.models.load_model(dst)
    mask = next((layer.mask_value for layer in model.layers if hasattr(layer, "mask_value")), None)
    print(f"proved: {dst} {prove(keras, src, dst, probe_input(model, plain(mask)), 1e-5, 1e-6)}")
    return 0


def _import_keras() -> Any:
    """tf.keras when TF_USE_LEGACY_KERAS=1 (Keras 2 via tf-keras), else keras."""
    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        import tensorflow as tf

        return tf.keras
    import keras

    return keras
