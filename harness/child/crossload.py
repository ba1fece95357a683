"""The `crossload` handler: save the seed model's files in one cell, load and predict them in another.

`{"mode": "save", "dir": D, "model": M, "files": [{"mask_value": .., "format": ..}, ...]}` writes each file,
its expected output and the input into D (manifest.json); `{"mode": "load", "sources": {cell: D, ...},
"tolerance": T}` loads every file of every source folder with safe mode on, predicts, and compares with
what the saving cell predicted. Each file's failure is caught and reported with its stage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.child import kit
from harness.child.stack import Stack, error_fields
from harness.decl import caseids

WARNINGS = "ignore"


def save_all(stack: Stack, cfg: dict[str, Any], files: list[dict[str, str]], folder: Path) -> dict[str, Any]:
    """Build, predict and save every file into `folder`; the manifest says what each produced."""
    import numpy as np

    x = kit.padded_batch(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "x.npy", x)
    manifest: dict[str, Any] = {}
    features = int(cfg["features"])
    for spec in files:
        entry: dict[str, Any] = {"file": f"{spec['mask_value']}{spec['format']}"}
        stage = "build"

        def masking(kind: str = spec["mask_value"]) -> Any:
            return stack.keras.layers.Masking(mask_value=kit.mask_value(stack, kind, features))

        try:
            model = kit.masked_rnn(stack, cfg, masking)
            stage = "predict"
            entry["expected"] = np.asarray(model.predict_on_batch(x), dtype="float64").tolist()
            stage = "save"
            model.save(str(folder / entry["file"]))
            entry["saved"] = True
        except Exception as exc:
            entry.update(saved=False, failed_stage=stage, **error_fields(exc))
        manifest[caseids.artifact(spec)] = entry
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def load_model(stack: Stack, path: Path) -> Any:
    """Load with Keras' safe mode on where the API has it (Keras 3; Keras 2 has no such switch)."""
    if stack.flavor == "keras3":
        return stack.keras.models.load_model(str(path), safe_mode=True)
    return stack.keras.models.load_model(str(path))


def load_one(
    stack: Stack, source: str, base: Path, entry: dict[str, Any], x: Any, tolerance: dict[str, float]
) -> dict[str, Any]:
    """Load one file `source` saved, predict, compare with the saving cell's output."""
    import numpy as np

    if not entry.get("saved"):
        return {
            "outcome": "skip",
            "failed_stage": "source",
            "source_stage": entry.get("failed_stage"),
            "error_type": entry.get("error_type"),
            "error_message": f"{source} could not {entry.get('failed_stage')} it: {entry.get('error_message')}",
        }
    stage = "load"
    try:
        model = load_model(stack, base / entry["file"])
        stage = "predict_after_load"
        got = np.asarray(model.predict_on_batch(x), dtype="float64")
    except Exception as exc:
        return {"outcome": "fail", "failed_stage": stage, **error_fields(exc)}
    expected = np.asarray(entry["expected"], dtype="float64")
    diff = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("inf")
    if got.shape == expected.shape and np.allclose(got, expected, rtol=tolerance["rtol"], atol=tolerance["atol"]):
        return {"outcome": "ok", "max_abs_diff": diff}
    return {
        "outcome": "mismatch",
        "failed_stage": "equivalence",
        "error_type": "Mismatch",
        "error_message": f"outputs differ from the saving cell's by up to {diff:.3g}",
        "max_abs_diff": diff,
    }


def load_all(stack: Stack, sources: dict[str, str], tolerance: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Per source cell: {"files": {artifact: result}}, or {"failure": ...} when its folder cannot be read."""
    import numpy as np

    out: dict[str, dict[str, Any]] = {}
    for source, folder in sources.items():
        base = Path(folder)
        try:
            manifest = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
            x = np.load(base / "x.npy")
        except (OSError, ValueError) as exc:
            out[source] = {"failure": {"outcome": "fail", "failed_stage": "load", **error_fields(exc)}}
            continue
        out[source] = {
            "files": {key: load_one(stack, source, base, entry, x, tolerance) for key, entry in manifest.items()}
        }
    return out


def handle(stack: Stack, req: dict[str, Any], stage: Callable[[str], None]) -> dict[str, Any]:
    """A save request (this cell writes its files) or a load request (this cell reads every source's)."""
    stage(req["mode"])
    if req["mode"] == "save":
        return {"files": save_all(stack, req["model"], req["files"], Path(req["dir"]))}
    return {"sources": load_all(stack, req["sources"], req["tolerance"])}
