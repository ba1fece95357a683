"""Saves the seed model in one cell and loads it in another: the train-on-A, serve-on-B question.

Runs as a child process in a cell's environment, like `harness.worker`: a `ready` message after the
import, then one request line: `{"mode": "save", "dir": D, "cases": [...]}` writes every case's artifact,
its expected output and the input into D (manifest.json); `{"mode": "load", "sources": {cell: D, ...}}`
loads every artifact of every source folder, predicts, and compares with what the saving cell predicted.
One `result` message answers; each case's failure is caught and reported with its stage.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

PARAM_IDS: dict[str, tuple[str, ...]] = {
    "mask_value": ("list", "tensor-float64", "numpy", "float"),
    "format": (".keras", ".h5"),
    "saved_by": ("*",),  # any cell id the scenario's `cells` lists
}
REQUIRED_PARAMS = ("mask_value", "format", "saved_by")
MODEL_KEYS: dict[str, type | tuple[type, ...]] = {
    "units": int,
    "timesteps": int,
    "features": int,
    "batch": int,
    "pad_fraction": (int, float),
    "seed": int,
}


def padded(cfg: dict[str, Any]) -> Any:
    """The seeded input batch, its last `pad_fraction` of timesteps zero."""
    import numpy as np

    rng = np.random.default_rng(int(cfg["seed"]))
    x = rng.standard_normal((int(cfg["batch"]), int(cfg["timesteps"]), int(cfg["features"]))).astype("float32")
    x[:, int(cfg["timesteps"]) - round(int(cfg["timesteps"]) * float(cfg["pad_fraction"])) :, :] = 0.0
    return x


def mask_value(stack: Any, kind: str, features: int) -> Any:
    """The `mask_value` a user passes: a list, a float64 tensor, a numpy array, or a float."""
    import numpy as np

    if kind == "list":
        return [0.0] * features
    if kind == "tensor-float64":
        return stack.tf.convert_to_tensor(np.zeros(features))
    if kind == "numpy":
        return np.zeros(features)
    return 0.0


def build(stack: Any, cfg: dict[str, Any], kind: str) -> Any:
    """Masking -> LSTM -> Dense with seeded weights."""
    keras = stack.keras
    keras.utils.set_random_seed(int(cfg["seed"]))
    return keras.Sequential(
        [
            keras.Input(shape=(int(cfg["timesteps"]), int(cfg["features"]))),
            keras.layers.Masking(mask_value=mask_value(stack, kind, int(cfg["features"]))),
            keras.layers.LSTM(int(cfg["units"])),
            keras.layers.Dense(1),
        ]
    )


def save_all(stack: Any, cfg: dict[str, Any], cases: list[dict[str, str]], folder: Path) -> dict[str, Any]:
    """Build, predict and save every case into `folder`; the manifest says what each produced."""
    import numpy as np

    x = padded(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "x.npy", x)
    manifest: dict[str, Any] = {}
    for case in cases:
        key = f"{case['mask_value']}:{case['format']}"
        entry: dict[str, Any] = {"file": f"{case['mask_value']}{case['format']}"}
        stage = "build"
        try:
            model = build(stack, cfg, case["mask_value"])
            stage = "predict"
            entry["expected"] = np.asarray(model.predict_on_batch(x), dtype="float64").tolist()
            stage = "save"
            model.save(str(folder / entry["file"]))
            entry["saved"] = True
        except Exception as exc:
            from harness import worker

            entry.update(saved=False, failed_stage=stage, **worker.error_fields(exc))
        manifest[key] = entry
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def load_model(stack: Any, path: Path) -> Any:
    """Load with Keras' safe mode on where the API has it (Keras 3; Keras 2 has no such switch)."""
    if stack.flavor == "keras3":
        return stack.keras.models.load_model(str(path), safe_mode=True)
    return stack.keras.models.load_model(str(path))


def load_all(stack: Any, sources: dict[str, str], tolerance: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Load every saved artifact of every source folder, predict, compare; one result per `case:source`."""
    import numpy as np

    from harness import worker

    out: dict[str, dict[str, Any]] = {}
    for source, folder in sources.items():
        base = Path(folder)
        try:
            manifest = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
            x = np.load(base / "x.npy")
        except (OSError, ValueError) as exc:
            # The parent gives every case of this source this failure.
            out[f"*:{source}"] = {"outcome": "fail", "failed_stage": "load", **worker.error_fields(exc)}
            continue
        for key, entry in manifest.items():
            cid = f"{key}:{source}"
            if not entry.get("saved"):
                out[cid] = {
                    "outcome": "skip",
                    "failed_stage": "source",
                    "source_stage": entry.get("failed_stage"),
                    "error_type": entry.get("error_type"),
                    "error_message": f"{source} could not {entry.get('failed_stage')} it: {entry.get('error_message')}",
                }
                continue
            stage = "load"
            try:
                model = load_model(stack, base / entry["file"])
                stage = "predict_after_load"
                got = np.asarray(model.predict_on_batch(x), dtype="float64")
            except Exception as exc:
                out[cid] = {"outcome": "fail", "failed_stage": stage, **worker.error_fields(exc)}
                continue
            expected = np.asarray(entry["expected"], dtype="float64")
            diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
            if got.shape == expected.shape and np.allclose(
                got, expected, rtol=tolerance["rtol"], atol=tolerance["atol"]
            ):
                out[cid] = {"outcome": "ok", "max_abs_diff": diff}
            else:
                out[cid] = {
                    "outcome": "mismatch",
                    "failed_stage": "equivalence",
                    "error_type": "Mismatch",
                    "error_message": f"outputs differ from the saving cell's by up to {diff:.3g}",
                    "max_abs_diff": diff,
                }
    return out


def main() -> int:
    """Import the stack, say `ready`, serve one save or load request."""
    from harness import worker

    reply = os.fdopen(int(os.environ["MASKCOMPAT_RESULT_FD"]), "w", encoding="utf-8")
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stack = worker.import_stack(os.environ["MASKCOMPAT_FLAVOR"], os.environ.get("KERAS_BACKEND", "tensorflow"))
            device = worker.detect_device(stack)
    except Exception as exc:
        reply.write(
            json.dumps({"type": "import_error", "versions": worker.installed_versions(), **worker.error_fields(exc)})
            + "\n"
        )
        reply.flush()
        return 3
    ready = {
        "type": "ready",
        "versions": worker.installed_versions(),
        "python": platform.python_version(),
        "device": device,
        "import_s": round(time.perf_counter() - t0, 3),
    }
    reply.write(json.dumps(ready) + "\n")
    reply.flush()
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    req = json.loads(line)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if req["mode"] == "save":
            result: Any = save_all(stack, req["model"], req["cases"], Path(req["dir"]))
        else:
            result = load_all(stack, req["sources"], req["tolerance"])
    reply.write(json.dumps({"type": "result", "mode": req["mode"], "cases": result}) + "\n")
    reply.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
