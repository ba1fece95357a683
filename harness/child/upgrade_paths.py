"""The `upgrade` handler: load a file other cells saved, the way its route prescribes, and check it.

One request per file content: load it (Keras 3 with safe mode on, its default), run the saving cells'
input through it once, then for each saving cell that saved this content compare with that cell's own
outputs (`equivalence`) and, where the model masks, the outputs at the real timesteps with its unpadded
reference (`masking_after_load`). A workaround's custom layer is registered first, as its users' code
would be. The model is called directly (`model(x, training=False)`), not through `predict`: the same
computation without a traced predict loop per file, which made the N x N pass twice as long. Over all
38,144 rows of one full pass, both ways gave every row the same outcome and stage (README, Upgrade paths).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.child import cases, compat, kit, routes, shim, zoo
from harness.child.stack import Stack, error_fields
from harness.decl.registry import settings


def _outcome(exc: BaseException) -> str:
    return "mismatch" if isinstance(exc, cases.Mismatch) else "skip" if isinstance(exc, routes.Skip) else "fail"


def compare(
    cfg: dict[str, Any], after: Any, target: dict[str, Any], tolerance: dict[str, float], what: str = "outputs"
) -> dict[str, Any]:
    """One saving cell's check of the loaded model's outputs (`what` they are): equal to its own, masking as its
    reference."""
    import numpy as np

    expected = np.load(target["expected"], allow_pickle=False)
    ref = np.load(target["ref"], allow_pickle=False) if target.get("ref") else None
    details: dict[str, Any] = {}

    def equivalence() -> None:
        if after.shape != expected.shape:
            raise cases.Mismatch(f"output shape {after.shape} differs from the saving cell's {expected.shape}")
        diff = float(np.max(np.abs(after.astype("float64") - expected.astype("float64"))))
        details["max_abs_diff"] = diff
        if not np.allclose(after, expected, rtol=tolerance["rtol"], atol=tolerance["atol"]):
            raise cases.Mismatch(f"{what} differ from the saving cell's by up to {diff:.3g}")

    def masking_after_load() -> None:
        details["masking_diff_after_load"] = cases.compare_masked(cfg, after, ref, tolerance)

    stages: list[tuple[str, Callable[[], None]]] = [("equivalence", equivalence)]
    if ref is not None:
        stages.append(("masking_after_load", masking_after_load))
    out: dict[str, Any] = {"outcome": "ok", "failed_stage": None, "details": details}
    for name, _, exc in cases.walk(stages, lambda name: None):
        if exc is not None:
            out.update(outcome=_outcome(exc), failed_stage=name, **error_fields(exc))
            out.pop("traceback_tail", None)
    return out


def handle(stack: Stack, req: dict[str, Any], stage: Callable[[str], None]) -> dict[str, Any]:
    """Load and predict once; the outcome of those stages, and each saving cell's comparison."""
    cfg = settings(req["model"], req["params"])
    masking = req["builder"] == "masking_rnn"
    x = kit.padded_batch(cfg) if masking else cases.kit_of(req["builder"])[1](stack, cfg, req["params"])
    if cfg["route"] == "custom-layer":  # the users' own Masking subclass, registered by importing their code
        compat.list_masking(stack.keras, lambda v: kit.as_tensor(stack, v, "float32"))
    if req["builder"] == "zoo":  # the zoo's own classes, registered as importing the user's code would
        zoo.register(stack)
    state: dict[str, Any] = {}

    def load() -> None:
        rebuild = cases.rebuilder(stack, req["builder"], cfg, req["params"])  # the weights-only route
        state["loaded"] = routes.load(stack, cfg, req["file"], rebuild)

    def predict() -> None:
        state["after"] = cases.outputs(stack, req["builder"], req["params"], state["loaded"], x, direct=True)

    out: dict[str, Any] = {"outcome": "ok", "failed_stage": None, "stage_s": {}}
    for name, seconds, exc in cases.walk([("load", load), ("predict_after_load", predict)], stage):
        out["stage_s"][name] = seconds
        if exc is not None:
            out.update(outcome=_outcome(exc), failed_stage=name, **error_fields(exc))
            out.pop("traceback_tail", None)
            if req.get("shim") is not None and cfg["route"] in SHIMMED:
                out["shim"] = shimmed(stack, req, cfg, x, stage)
            return out
    stage("equivalence")
    what = cases.compared(req["builder"], req["params"])
    out["compared"] = [compare(cfg, state["after"], target, req["tolerance"], what) for target in req["compare"]]
    return out


# The routes whose file is a whole model (`.keras`, `.h5`): the shim is tried where one fails, and the copy loaded the
# route's way (the custom layer registered, or custom_objects given). Weights and SavedModels hold no config.
SHIMMED = ("plain", "list", "custom-layer", "custom-objects")


def shimmed(
    stack: Stack, req: dict[str, Any], cfg: dict[str, Any], x: Any, stage: Callable[[str], None]
) -> dict[str, Any]:
    """The shim route on a file that failed: rewritten for this release (`harness.child.shim`), loaded, predicted and
    compared with each saving cell's outputs like the file itself."""
    import os
    import shutil
    import tempfile

    state: dict[str, Any] = {}
    folder = tempfile.mkdtemp(prefix="shim-")

    def rewrite() -> None:
        state["copy"] = shim.apply(stack.keras, req["file"], os.path.join(folder, "model"), req["shim"])
        state["changes"] = state["copy"].changes

    def load() -> None:
        state["loaded"] = state["copy"].load(lambda path: routes.load(stack, cfg, path, lambda: None))

    def predict() -> None:
        state["after"] = cases.outputs(stack, req["builder"], req["params"], state["loaded"], x, direct=True)

    out: dict[str, Any] = {"outcome": "ok", "failed_stage": None}
    try:
        for name, _, exc in cases.walk([("repair", rewrite), ("load", load), ("predict_after_load", predict)], stage):
            if exc is not None:
                outcome = "skip" if isinstance(exc, routes.Skip) else "fail"
                out.update(outcome=outcome, failed_stage=name, **error_fields(exc), changes=state.get("changes"))
                out.pop("traceback_tail", None)
                return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    out["changes"] = state["changes"]
    what = cases.compared(req["builder"], req["params"])
    out["compared"] = [compare(cfg, state["after"], target, req["tolerance"], what) for target in req["compare"]]
    return out
