"""The `cases` handler: one compatibility case per request, walked stage by stage, stopping at the first failure.

Stages: build, predict, masking (the padded steps must not change the output), save, (repair), load,
predict_after_load, equivalence, masking_after_load. Cases that start from the same model (equal
`registry.build_key`) share one build, predict and masking check in a child.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import rewrite
from harness.child import compat, faults, keep, kit, objects, routes, zoo
from harness.child.stack import Stack, error_fields
from harness.decl.registry import build_key, settings


class Mismatch(Exception):
    """Outputs differ from what they must equal (the pre-save outputs, or the unpadded reference)."""


@dataclass
class CaseResult:
    """What one case produced: outcome, where it stopped, and numbers worth keeping."""

    outcome: str = "ok"
    failed_stage: str | None = None
    error: BaseException | None = None
    stage_s: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def masking_layer(stack: Stack, cfg: dict[str, Any], kind: str) -> Any:
    """The Masking layer of the route: plain Masking, or the registered list-config subclass."""
    value = kit.mask_value(stack, kind, int(cfg["features"]), cfg["mask"])
    if cfg["route"] == "custom-layer":
        return compat.list_masking(stack.keras, lambda v: kit.as_tensor(stack, v, "float32"))(mask_value=value)
    return stack.keras.layers.Masking(mask_value=value)


def build_masking_rnn(stack: Stack, cfg: dict[str, Any], kind: str) -> Any:
    """Masking (the route's) -> RNN -> Dense with seeded weights."""
    return kit.masked_rnn(stack, cfg, lambda: masking_layer(stack, cfg, kind))


def reference_output(stack: Stack, cfg: dict[str, Any], weights: list[Any], x: Any) -> Any:
    """The same weights run without Masking on only the real timesteps: what masking must reproduce."""
    keras = stack.keras
    keep = kit.real_steps(cfg)
    steps = keep.stop - keep.start
    ref = keras.Sequential(
        [
            keras.Input(shape=(steps, int(cfg["features"]))),
            kit.rnn_layer(keras, cfg["rnn"], int(cfg["units"]), bool(cfg["return_sequences"])),
            keras.layers.Dense(1),
        ]
    )
    ref.set_weights(weights)
    return kit.to_numpy(stack, ref(x[:, keep, :], training=False))


def compare_masked(cfg: dict[str, Any], y: Any, ref: Any, tol: dict[str, float]) -> float:
    """Outputs on padded input must not depend on the padded steps: equal to the unpadded reference."""
    import numpy as np

    got = np.asarray(y)
    if cfg["return_sequences"]:
        got = got[:, kit.real_steps(cfg), :]
    if got.shape != ref.shape:
        raise Mismatch(f"output shape {got.shape} does not match the unpadded reference {ref.shape}")
    diff = float(np.max(np.abs(got.astype("float64") - ref.astype("float64"))))
    if not np.allclose(got, ref, rtol=tol["rtol"], atol=tol["atol"]):
        raise Mismatch(f"padded timesteps change the output: max |output - unpadded reference| = {diff:.3g}")
    return diff


Stage = tuple[str, float, BaseException | None]  # name, seconds, what stopped it (None: it passed)


def walk(stages: list[tuple[str, Callable[[], None]]], stage: Callable[[str], None]) -> list[Stage]:
    """Run stages in order, announcing each to the parent, and stop at the first that raises."""
    done: list[Stage] = []
    for name, fn in stages:
        stage(name)
        t0 = time.perf_counter()
        try:
            fn()
        except Exception as exc:
            done.append((name, round(time.perf_counter() - t0, 4), exc))
            break
        done.append((name, round(time.perf_counter() - t0, 4), None))
    return done


@dataclass
class Built:
    """What the shared first stages produced (or the exception that stopped them), per build key."""

    key: str
    stages: list[Stage] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    first_case: str = ""


_BUILT: dict[str, Built] = {}


def _first_stages(stack: Stack, builder: str, cfg: dict[str, Any], params: dict[str, str], x: Any, tol: Any, key: str,
                  case_id: str, stage: Callable[[str], None]) -> Built:  # fmt: skip
    """build, predict and (masked models) the masking check, once per build key in this child."""
    _BUILT.clear()
    stack.keras.backend.clear_session()
    built = _BUILT[key] = Built(key, first_case=case_id)
    shared = built.state
    masking = builder == "masking_rnn"

    def build() -> None:
        if masking:
            shared["model"] = build_masking_rnn(stack, cfg, params["mask_value"])
        else:
            shared["model"] = kit_of(builder)[0](stack, cfg, params)

    def predict_before() -> None:
        shared["before"] = outputs(stack, builder, params, shared["model"], x, direct=False)

    def masking_before() -> None:
        weights = shared["model"].get_weights()
        shared["ref"] = reference_output(stack, cfg, weights, x)
        shared["masking_diff"] = compare_masked(cfg, shared["before"], shared["ref"], tol)

    first: list[tuple[str, Callable[[], None]]] = [("build", build), ("predict", predict_before)]
    if masking:
        first.append(("masking", masking_before))
    built.stages = walk(first, stage)  # a failure is the finding; later cases with this key get the same one
    return built


Kit = tuple[
    Callable[[Stack, dict[str, Any], dict[str, str]], Any], Callable[[Stack, dict[str, Any], dict[str, str]], Any]
]


def kit_of(builder: str) -> Kit:
    """(build, batch) of a builder whose models are not the masked RNN: the zoo's kinds, or the layer objects."""
    return (zoo.build, zoo.batch) if builder == "zoo" else (objects.build, objects.batch)


def outputs(stack: Stack, builder: str, params: dict[str, str], model: Any, x: Any, direct: bool) -> Any:
    """What a case compares: one training step's loss and weights for a kind that trains (the zoo's compiled model),
    else the predictions (a direct call as serving code makes it, or `predict`)."""
    if builder == "zoo" and params.get("kind") in zoo.TRAINED:
        return zoo.train_step(stack, model, x)
    return routes.call(stack, model, x) if direct else routes.predict(model, x)


def compared(builder: str, params: dict[str, str]) -> str:
    """What `outputs` gives, in a mismatch's words."""
    trained = builder == "zoo" and params.get("kind") in zoo.TRAINED
    return "the training step's loss and weights" if trained else "outputs"


def rebuilder(stack: Stack, builder: str, cfg: dict[str, Any], params: dict[str, str]) -> Callable[[], Any]:
    """The model the weights-only route loads weights into, built by the code (a list mask for the masked RNN)."""
    if builder == "masking_rnn":
        return lambda: build_masking_rnn(stack, cfg, "list")
    return lambda: kit_of(builder)[0](stack, cfg, params)


def run_case(
    stack: Stack,
    builder: str,
    model: dict[str, Any],
    tolerance: dict[str, float],
    params: dict[str, str],
    workdir: str,
    stage: Callable[[str], None] = lambda name: None,
    case_id: str = "",
    store: Path | None = None,
) -> CaseResult:
    """Walk the case's stages in order, stopping at the first failure (a mismatch or skip says so).

    With a `store`, the file the case saved (the repaired one on the repair route) is kept there with the
    outputs it must reproduce, for other cells to load (`harness.child.keep`); the row's `details.saved`
    gives its addresses.
    """
    import numpy as np

    if builder == "fault":
        return _stopped(CaseResult(), "import", faults.cause(params["fault"], stage))
    result = CaseResult()
    cfg = settings(model, params)
    masking = builder == "masking_rnn"
    x = kit.padded_batch(cfg) if masking else kit_of(builder)[1](stack, cfg, params)
    key = build_key(builder, model, params)
    built = _BUILT.get(key)
    fresh_build = built is None
    if built is None:
        built = _first_stages(stack, builder, cfg, params, x, tolerance, key, case_id, stage)
    else:
        result.details["shared_build"] = built.first_case
    for name, seconds, stopped_by in built.stages:
        result.stage_s[name] = seconds if fresh_build else 0.0
        if stopped_by is not None:
            return _stopped(result, name, stopped_by)
    state = dict(built.state)
    if "masking_diff" in state:
        result.details["masking_diff"] = state["masking_diff"]

    def save_stage() -> None:
        state["path"] = routes.save(stack, cfg, state["model"], workdir, params["format"])
        if cfg["route"] != "repair":
            state["artifact"] = state["path"]
        if builder == "zoo":  # what check's static pass reads this file as
            result.details["static_kinds"] = zoo.static_kinds(state["path"])

    def repair_stage() -> None:
        fixed = Path(workdir) / "repaired.keras"
        result.details["repaired"] = rewrite.repair_file(Path(state["path"]), fixed)
        state["path"] = state["artifact"] = str(fixed)

    def load_stage() -> None:
        state["loaded"] = routes.load(stack, cfg, state["path"], rebuilder(stack, builder, cfg, params))

    def predict_after_load() -> None:
        state["after"] = outputs(stack, builder, params, state["loaded"], x, direct=False)

    def equivalence() -> None:
        before, after = state["before"], state["after"]
        if before.shape != after.shape:
            raise Mismatch(f"output shape changed after load: {before.shape} -> {after.shape}")
        diff = float(np.max(np.abs(before.astype("float64") - after.astype("float64"))))
        result.details["max_abs_diff"] = diff
        if not np.allclose(before, after, rtol=tolerance["rtol"], atol=tolerance["atol"]):
            raise Mismatch(
                f"{compared(builder, params)} differ after load: max |before - after| = {diff:.3g} "
                f"(rtol={tolerance['rtol']}, atol={tolerance['atol']})"
            )

    def masking_after_load() -> None:
        result.details["masking_diff_after_load"] = compare_masked(cfg, state["after"], state["ref"], tolerance)

    stages: list[tuple[str, Callable[[], None]]] = [("save", save_stage)]
    if cfg["route"] == "repair":
        stages.append(("repair", repair_stage))
    stages += [("load", load_stage), ("predict_after_load", predict_after_load), ("equivalence", equivalence)]
    if masking:
        stages.append(("masking_after_load", masking_after_load))
    walked = walk(stages, stage)
    if store is not None and "artifact" in state:  # saved, whatever loading it here gave
        try:
            result.details["saved"] = keep.saved(store, Path(state["artifact"]), state["before"], state.get("ref"))
        except Exception as failure:  # the case's own finding stands; the file just does not travel
            result.details["saved_error"] = f"{type(failure).__name__}: {failure}"[:500]
    for name, seconds, exc in walked:
        result.stage_s[name] = seconds
        if exc is not None:  # a failing stage is the finding we record
            return _stopped(result, name, exc)
    return result


def _stopped(result: CaseResult, stage: str, exc: BaseException) -> CaseResult:
    result.outcome = "mismatch" if isinstance(exc, Mismatch) else "skip" if isinstance(exc, routes.Skip) else "fail"
    result.failed_stage = stage
    result.error = exc
    return result


def handle(stack: Stack, req: dict[str, Any], stage: Callable[[str], None]) -> dict[str, Any]:
    """One case request -> its outcome, stage, per-stage seconds, details and error."""
    store = Path(req["store"]) if req.get("store") else None
    res = run_case(
        stack, req["builder"], req["model"], req["tolerance"], req["params"], req["workdir"], stage, req["case_id"],
        store,
    )  # fmt: skip
    out: dict[str, Any] = {
        "outcome": res.outcome,
        "failed_stage": res.failed_stage,
        "stage_s": res.stage_s,
        "details": res.details,
    }
    if res.error is not None:
        out.update(error_fields(res.error))
    return out
