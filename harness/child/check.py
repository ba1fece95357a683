"""The `check` handler: a user's saved model in one cell, loaded with safe mode on, run, and checked for masking.

The request names a read-only copy of the file in the child's sandbox (the parent decides where a release
would run the file's code and refuses those targets before any child starts) and the routes to try,
in order, until one loads and runs: `plain` (load_model; a SavedModel through TFSMLayer on Keras 3),
`custom-objects` (a Masking that untags tensor values), `repair` (the parent's rewritten copy), `rebuild`
(the config untagged, the weights loaded into the rebuilt model). `shim` (a copy rewritten for this release:
`harness.child.shim`) comes before `rebuild`. Inputs come from the model's input spec
(fixed sizes for unknown dimensions, every input of a multi-input model; padded steps hold the mask value)
or from the user's `.npz`. The outputs go to an `.npz` the parent compares across cells.
"""

from __future__ import annotations

import errno
import inspect
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from typing import Any

from harness.child import compat, routes, shim
from harness.child.stack import Stack, error_fields
from harness.rewrite import plain, untag

UNKNOWN_BATCH, UNKNOWN_STEPS, UNKNOWN_OTHER = 4, 12, 8


def _load_model(keras: Any, path: str, scratch: list[str], **kwargs: Any) -> Any:
    """`load_model`, and where the release opens the read-only copy for writing (Keras 3.0 and 3.1 open a
    `.keras` file with mode `r+b`), again from a writable scratch copy in the working folder (in the sandbox)."""
    try:
        return keras.models.load_model(path, **kwargs)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EROFS) or os.path.abspath(str(exc.filename)) != os.path.abspath(path):
            raise
    copy = os.path.join(os.getcwd(), "scratch-" + os.path.basename(path))
    shutil.copyfile(path, copy)
    scratch.append(copy)
    return keras.models.load_model(copy, **kwargs)


def _load(stack: Stack, route: str, req: dict[str, Any], scratch: list[str], attempt: dict[str, Any]) -> Any:
    keras, path = stack.keras, req["file"]
    safe = {"safe_mode": True} if stack.flavor == "keras3" else {}
    if req["kind"] == "savedmodel":
        if route != "plain":
            raise routes.Skip(f"the {route} route does not apply to a SavedModel")
        if stack.flavor != "keras3":
            return keras.models.load_model(path)
        if stack.backend != "tensorflow":
            raise routes.Skip("keras.layers.TFSMLayer reloads a SavedModel on the tensorflow backend only")
        return keras.layers.TFSMLayer(path, call_endpoint="serve")
    if req["kind"] == "weights":
        raise routes.Skip("a weights-only file needs the model's code to build the model first")
    if route == "plain":
        return _load_model(keras, path, scratch, **safe)
    if route == "custom-objects":
        return _load_model(keras, path, scratch, custom_objects={"Masking": compat.tolerant_masking(keras)}, **safe)
    if route == "repair":
        if not req.get("repaired"):
            raise routes.Skip("nothing tagged to rewrite in this file")
        return _load_model(keras, req["repaired"], scratch, **safe)
    if route == "shim":
        if req["kind"] not in ("keras", "h5") or not req.get("shim_out"):
            raise routes.Skip("the shim rewrites .keras and .h5 model files")
        fixed = shim.apply(keras, path, req["shim_out"], req["shim"])
        attempt["shim_changes"], attempt["shim_file"] = fixed.changes, fixed.path
        return fixed.load(lambda p: _load_model(keras, p, scratch, **safe))
    if route == "rebuild":
        return _rebuild(stack, req)
    raise ValueError(f"unknown route {route!r}")


def _rebuild(stack: Stack, req: dict[str, Any]) -> Any:
    """The model built from its config with tagged values made plain, and the archive's weights loaded into it."""
    if req["kind"] != "keras" or not req.get("weights"):
        raise routes.Skip("rebuilding needs a .keras archive's config and weights")
    with zipfile.ZipFile(req["file"]) as z:
        config = json.loads(z.read("config.json"))

    def untagged(node: Any) -> Any:
        if isinstance(node, dict):
            value = untag(node)
            return value if value is not node else {k: untagged(v) for k, v in node.items()}
        if isinstance(node, list):
            return [untagged(v) for v in node]
        return node

    keras = stack.keras
    rebuild = getattr(getattr(keras, "saving", None), "deserialize_keras_object", None)
    if rebuild is not None and "safe_mode" in inspect.signature(rebuild).parameters:
        model = rebuild(untagged(config), safe_mode=True)  # never the unset safe mode of CVE-2026-12481
    else:
        model = keras.layers.deserialize(untagged(config))
    model.load_weights(req["weights"])
    return model


def _spec(model: Any) -> list[tuple[str, tuple[int | None, ...], str]]:
    """(name, shape, dtype) of each input the model takes."""
    inputs = getattr(model, "inputs", None) or []
    out = []
    for i, t in enumerate(inputs):
        shape = tuple(None if d is None else int(d) for d in t.shape)
        name = str(getattr(t, "name", f"input_{i}")).split(":")[0]
        out.append((name, shape, str(getattr(t.dtype, "name", t.dtype))))
    return out


def _mask_value(model: Any) -> Any:
    for layer in getattr(model, "layers", []):
        if type(layer).__name__ == "Masking" or hasattr(layer, "mask_value"):
            return getattr(layer, "mask_value", None)
    return None


def make_inputs(model: Any, seed: int = 0) -> tuple[list[Any], dict[str, Any]]:
    """Deterministic inputs from the model's input spec; the last quarter of timesteps padded with the mask value."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mask = _mask_value(model)
    xs: list[Any] = []
    info: dict[str, Any] = {"inputs": [], "padded_steps": 0}
    for name, shape, dtype in _spec(model):
        steps = len(shape) >= 3  # (batch, steps, features...): dimension 1 is time
        dims = [UNKNOWN_BATCH] + [d if d is not None else UNKNOWN_STEPS if i == 1 and steps else UNKNOWN_OTHER
                                  for i, d in enumerate(shape[1:], 1)]  # fmt: skip
        padded = False
        if "int" in dtype:
            x = rng.integers(0, 5, size=dims).astype(dtype)
        elif "string" in dtype or "str" in dtype:
            x = rng.choice(np.array(["a", "b", "c"]), size=dims)
        else:
            x = rng.standard_normal(dims).astype(dtype if "float" in dtype else "float32")
            if mask is not None and len(dims) == 3:
                pad = max(1, dims[1] // 4)
                x[:, dims[1] - pad :, :] = np.asarray(untag(plain(mask)), dtype=x.dtype)
                info["padded_steps"], padded = pad, True
        xs.append(x)
        info["inputs"].append(
            {"name": name, "shape": dims, "dtype": str(x.dtype), "declared": list(shape), "padded": padded}
        )
    return xs, info


def _run(stack: Stack, model: Any, xs: list[Any]) -> list[Any]:
    out = routes.call(stack, model, xs[0] if len(xs) == 1 else xs)
    return out if isinstance(out, list) else [out]


def masking_check(
    stack: Stack, model: Any, xs: list[Any], info: dict[str, Any], tol: dict[str, float]
) -> dict[str, Any]:
    """Padded steps must not change the outputs: the padded input against only its real steps (variable length)."""
    import numpy as np

    pad = int(info["padded_steps"])
    if not pad or _mask_value(model) is None:
        return {"masking": "no Masking layer"}
    padded = [i.get("padded", False) for i in info["inputs"]]
    if any(i["declared"][1:2] != [None] for i, p in zip(info["inputs"], padded, strict=True) if p):
        return {"masking": "not checked: the model's timesteps are fixed, so it takes no shorter sequence"}
    full = _run(stack, model, xs)
    real = _run(stack, model, [x[:, : x.shape[1] - pad] if p else x for x, p in zip(xs, padded, strict=True)])
    diffs = []
    for a, b in zip(full, real, strict=True):
        a = np.asarray(a)[:, : np.asarray(b).shape[1]] if np.asarray(a).ndim == 3 else np.asarray(a)
        if a.shape != np.asarray(b).shape:
            return {"masking": "not checked: outputs of the two lengths differ in shape"}
        diffs.append(float(np.max(np.abs(a.astype("float64") - np.asarray(b).astype("float64")))))
    ok = all(np.allclose(a, b, rtol=tol["rtol"], atol=tol["atol"]) for a, b in zip(full, real, strict=True))
    return {"masking": "ok" if ok else "padded steps change the outputs", "masking_diff": max(diffs)}


def handle(stack: Stack, req: dict[str, Any], stage: Callable[[str], None]) -> dict[str, Any]:
    """Try the routes in order; the first that loads and runs gives the outputs (in `out`), every try a record."""
    import numpy as np

    tries: list[dict[str, Any]] = []
    for route in req["routes"]:
        attempt: dict[str, Any] = {"route": route}
        reached = "load"
        try:
            stage("load")
            scratch: list[str] = []
            model = _load(stack, route, req, scratch, attempt)
            if scratch:
                attempt["scratch_copy"] = "the release opened the file for writing: loaded from a writable copy"
            reached = "predict_after_load"
            stage("predict_after_load")
            if req.get("inputs"):
                with np.load(req["inputs"], allow_pickle=False) as data:
                    xs = [data[k] for k in sorted(data.files) if not k.startswith("output")]
                info: dict[str, Any] = {"inputs": [{"name": "from --inputs", "shape": list(x.shape)} for x in xs],
                                        "padded_steps": 0}  # fmt: skip
            else:
                xs, info = make_inputs(model)
            outputs = _run(stack, model, xs)
            attempt.update(outcome="ok", failed_stage=None)
            np.savez(req["out"], *[np.asarray(o) for o in outputs])
            stage("masking_after_load")
            attempt.update(masking_check(stack, model, xs, info, req["tolerance"]), **info)
        except Exception as exc:  # this route does not load or run here: try the next one
            kind = "skip" if isinstance(exc, routes.Skip) else "fail"
            attempt.update(outcome=kind, failed_stage=reached, **error_fields(exc))
            attempt.pop("traceback_tail", None)
        tries.append(attempt)
        if attempt["outcome"] == "ok":
            break
    first = tries[0]
    winner = next((t for t in tries if t["outcome"] == "ok"), None)
    return {
        "outcome": first["outcome"],
        "failed_stage": first.get("failed_stage"),
        "error_type": first.get("error_type"),
        "error_message": first.get("error_message"),
        "route": winner["route"] if winner else None,
        "tries": tries,
    }
