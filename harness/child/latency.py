"""The `latency` handler: times masked-RNN inference, Keras variants and the framework floor, same weights.

One request names the cases; the result holds the raw samples of every case. The parent
(`harness.runner.timing`) starts one child per cell per round and computes the statistics.
"""

from __future__ import annotations

import gc
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.child import kit, refloop
from harness.child.stack import Stack, error_fields

WARNINGS = "ignore"  # nothing is recorded while timing
# Timed as version 1 was: frozen import-time objects made torch's unmasked predict_on_batch 8-16% faster
# (3 x 3 processes each way), so freezing would change what this handler measures.
FREEZE_IMPORTS = False
MIN_SAMPLES = 3
MAX_LOOPS = 4096


class CaseError(Exception):
    """A case could not be prepared; `stage` says where."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(str(error))
        self.stage = stage
        self.error = error


SHAPE = ("timesteps", "batch", "units", "pad")  # a sweep case's own shape, over the scenario's [model]
MODEL_SHAPE = ("timesteps", "units")  # what a model's layers depend on; batch and padding are the input's


def real_count(cfg: dict[str, Any]) -> int:
    """How many timesteps of the input carry data."""
    return int(cfg["timesteps"]) - kit.pad_steps(cfg)


def case_cfg(cfg: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """The model settings of one case: the scenario's, with a sweep case's timesteps, batch, units and padding."""
    out = dict(cfg)
    for key in ("timesteps", "batch", "units"):
        if key in params:
            out[key] = int(float(params[key]))
    if "pad" in params:
        out["pad_fraction"] = float(params["pad"])
    return out


def padded_input(cfg: dict[str, Any]) -> tuple[Any, Any]:
    """The seeded batch (padding at the end, zeros) and each sequence's length."""
    return kit.padded_batch(cfg), kit.lengths(cfg)


def pin_cpu(choice: int) -> int | None:
    """Pin this process (and the threads it will start) to one CPU: -1 the last allowed one, -2 none."""
    if choice == -2 or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[-1] if choice == -1 else choice
    if cpu not in allowed:
        raise ValueError(f"cpu {cpu} is not one this process may use ({allowed})")
    os.sched_setaffinity(0, {cpu})
    return cpu


def thread_settings(stack: Any) -> dict[str, Any]:
    """Thread counts the timings ran with: the process's CPUs and what the backend was told to use."""
    info: dict[str, Any] = {
        "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        **{k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")},
    }
    if stack.tf is not None:
        threading = stack.tf.config.threading
        info["tf_intra_op"] = threading.get_intra_op_parallelism_threads()  # 0: TensorFlow picks
        info["tf_inter_op"] = threading.get_inter_op_parallelism_threads()
    if stack.backend == "torch":
        import torch

        threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
        if threads > 0:
            torch.set_num_threads(threads)
            torch.set_num_interop_threads(threads)
        info["torch_threads"] = torch.get_num_threads()
        info["torch_interop_threads"] = torch.get_num_interop_threads()
    if stack.backend == "jax":
        info["XLA_FLAGS"] = os.environ.get("XLA_FLAGS")
    return info


def as_numpy(value: Any) -> Any:
    """An output of any backend as a numpy array."""
    import numpy as np

    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy"):
        return value.numpy()
    return np.asarray(value)


def synchronizer(stack: Any) -> Callable[[Any], Any]:
    """Waits until a backend result exists (GPU work is asynchronous), returning it."""
    if stack.backend == "tensorflow":
        return lambda out: out.numpy()
    if stack.backend == "jax":
        return lambda out: out.block_until_ready()
    import torch

    if torch.cuda.is_available():

        def wait(out: Any) -> Any:
            torch.cuda.synchronize()
            return out

        return wait
    return lambda out: out


class Models:
    """The cell's models for one timesteps and width, built once: masked, unmasked (same weights), reloaded (list
    route) and the real work per number of real steps. A model takes any batch size, so every batch and padding of
    the same timesteps and width shares them: building and tracing, not running, is most of a sweep's time."""

    def __init__(self, stack: Any, cfg: dict[str, Any], workdir: Path) -> None:
        self.stack = stack
        self.cfg = cfg
        self.workdir = workdir
        self.built: dict[tuple[str, str, int], Any] = {}
        self.outputs: dict[tuple[str, int, int], Any] = {}

    def expected(self, rnn: str, x: Any, cfg: dict[str, Any]) -> Any:
        """The masked model's output on this input, computed once: what every other model of the input must give."""
        key = (rnn, int(cfg["batch"]), real_count(cfg))
        if key not in self.outputs:
            self.outputs[key] = self.get(rnn, "masked").predict_on_batch(x)
        return self.outputs[key]

    def _layers(self, rnn: str, mask: Any, seed: bool = False) -> Any:
        masking = None if mask is None else (lambda: self.stack.keras.layers.Masking(mask_value=mask))
        return kit.masked_rnn(self.stack, {**self.cfg, "rnn": rnn}, masking, seed=seed)

    def get(self, rnn: str, kind: str, real: int = 0) -> Any:
        """The model of this kind (`real`: the real-work model's number of steps); the masked one fixes the weights
        the others copy."""
        key = (rnn, "masked" if kind == "floor" else kind, real if kind == "real-work" else 0)
        if key in self.built:
            return self.built[key]
        if key[1] == "real-work":  # the same weights, unmasked, on only the real steps (what bucketing approaches)
            cfg = {**self.cfg, "rnn": rnn, "timesteps": real, "pad_fraction": 0.0}
            weights = self.get(rnn, "masked").get_weights()
            try:
                model = kit.masked_rnn(self.stack, cfg, None, seed=False)
                model.set_weights(weights)
            except Exception as exc:
                raise CaseError("build", exc) from exc
            self.built[key] = model
            return model
        if key[1] == "masked":
            try:
                model = self._layers(rnn, 0.0, seed=True)
            except Exception as exc:
                raise CaseError("build", exc) from exc
        else:
            weights = self.get(rnn, "masked").get_weights()
            try:
                model = self._layers(rnn, None if key[1] == "unmasked" else [0.0] * int(self.cfg["features"]))
                model.set_weights(weights)
            except Exception as exc:
                raise CaseError("build", exc) from exc
            if key[1] == "reloaded":
                path = self.workdir / f"{rnn}-list.keras"
                try:
                    model.save(str(path))
                except Exception as exc:
                    raise CaseError("save", exc) from exc
                try:
                    model = self.stack.keras.models.load_model(str(path))
                except Exception as exc:
                    raise CaseError("load", exc) from exc
        self.built[key] = model
        return model


def prepare(
    stack: Any, models: Models, cfg: dict[str, Any], params: dict[str, str], x: Any, lengths: Any
) -> tuple[Callable[[], Any], Any]:
    """The callable to time for one case (`cfg`: its own shape), and the output it must reproduce (None: nothing
    to compare)."""
    from harness.child import floors

    rnn, kind, call = params["rnn"], params["model"], params.get("call", "predict_on_batch")
    masked = models.get(rnn, "masked")
    expected = None if kind == "unmasked" else models.expected(rnn, x, cfg)
    if kind == "floor":
        if rnn != "lstm":
            raise CaseError("build", ValueError(f"the framework floor is written for LSTM only, not {rnn}"))
        try:
            return floors.floor(stack.backend, stack.tf, masked, x, lengths), expected
        except Exception as exc:
            raise CaseError("build", exc) from exc
    model = models.get(rnn, kind, real_count(cfg))
    if kind == "real-work":
        x = x[:, kit.real_steps(cfg), :]
    if call == "predict_on_batch":
        return (lambda: model.predict_on_batch(x)), expected
    sync = synchronizer(stack)
    if stack.tf is not None and stack.backend == "tensorflow":
        tensor = stack.tf.constant(x)
    else:
        tensor = stack.keras.ops.convert_to_tensor(x)
    return (lambda: sync(model(tensor, training=False))), expected


def _timed(fn: Callable[[], Any], loops: int) -> float:
    """Seconds per call over `loops` back-to-back calls, the garbage collector paused (as timeit does)."""
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        return (time.perf_counter() - t0) / loops
    finally:
        gc.enable()


def calibrate(fn: Callable[[], Any], min_sample_s: float, warm_s: float) -> int:
    """Calls per sample so one sample lasts at least `min_sample_s` (pyperf's loop calibration).

    `warm_s` is a warm call's duration already seen: a call that slow needs no calibration runs.
    """
    if warm_s >= min_sample_s:
        return 1
    loops = 1
    while True:
        total = _timed(fn, loops) * loops
        if total >= min_sample_s or loops >= MAX_LOOPS:
            return loops
        loops = min(MAX_LOOPS, max(loops * 2, math.ceil(loops * min_sample_s / max(total, 1e-9))))


def warm_sweeps(
    ready: dict[str, Callable[[], Any]], out: dict[str, dict[str, Any]], sweeps: int, budget: float
) -> None:
    """Call every case under the budget once more, in turn, `sweeps` times, keeping its fastest warm call: a model's
    first call after other models were built can take many times its steady time (Keras 2's does), which would
    otherwise fall into the first sample and the calibration."""
    for _ in range(sweeps):
        for cid, fn in ready.items():
            if out[cid]["first_call_s"] < budget:
                out[cid]["warm_call_s"] = round(min(out[cid]["warm_call_s"], _timed(fn, 1)), 6)


def measure(
    stack: Any,
    cfg: dict[str, Any],
    bench: dict[str, Any],
    tolerance: dict[str, float],
    cases: list[dict[str, Any]],
    loops: dict[str, int],
    workdir: Path,
    ref: Callable[[], float] | None = None,
) -> dict[str, dict[str, Any]]:
    """Prepare, check, warm up and calibrate every case, then take samples round-robin across cases.

    With `warm_sweeps` in the bench, that many untimed round-robin sweeps over all cases come before calibration.

    With `ref`, every sample is bracketed by reference runs; `ref_s` holds the mean of the two around it.
    """
    shapes: dict[tuple[str | None, ...], Models] = {}  # one set of models per timesteps and width
    inputs: dict[tuple[str | None, ...], tuple[dict[str, Any], Any, Any]] = {}  # one input per whole shape
    sweeps = int(bench.get("warm_sweeps", 0))
    out: dict[str, dict[str, Any]] = {}
    ready: dict[str, Callable[[], Any]] = {}
    for case in cases:
        cid = case["case_id"]
        shape = tuple(case["params"].get(k) for k in SHAPE)
        if shape not in inputs:
            here = case_cfg(cfg, case["params"])
            inputs[shape] = (here, *padded_input(here))
        here, x, lengths = inputs[shape]
        width = tuple(case["params"].get(k) for k in MODEL_SHAPE)
        if width not in shapes:
            shapes[width] = Models(stack, here, workdir)
        models = shapes[width]
        try:
            fn, expected = prepare(stack, models, here, case["params"], x, lengths)
            t0 = time.perf_counter()
            got = as_numpy(fn())
            first = time.perf_counter() - t0
        except CaseError as exc:
            out[cid] = {"outcome": "fail", "failed_stage": exc.stage, **error_fields(exc.error)}
            continue
        except Exception as exc:
            out[cid] = {"outcome": "fail", "failed_stage": "predict", **error_fields(exc)}
            continue
        res: dict[str, Any] = {"outcome": "ok", "first_call_s": round(first, 6)}
        if expected is not None:
            import numpy as np

            diff = float(np.max(np.abs(np.asarray(got, dtype="float64") - np.asarray(expected, dtype="float64"))))
            res["max_abs_diff"] = diff
            if not np.allclose(got, expected, rtol=tolerance["rtol"], atol=tolerance["atol"]):
                res.update(
                    outcome="mismatch",
                    failed_stage="equivalence",
                    error_type="Mismatch",
                    error_message=f"output differs from the masked Keras model by up to {diff:.3g}",
                )
        warm = first  # the checked call above was the first warm-up; slow cases need no more
        if first < float(bench["case_budget_s"]):
            for _ in range(int(bench["warmup"])):
                warm = min(warm, _timed(fn, 1))
        res["warm_call_s"] = round(warm, 6)
        if not sweeps:
            res["loops"] = loops.get(cid) or calibrate(fn, float(bench["min_sample_s"]), warm)
        res["samples"] = []
        if ref is not None:
            res["ref_s"] = []
        out[cid] = res
        ready[cid] = fn
    warm_sweeps(ready, out, sweeps, float(bench["case_budget_s"]))
    if sweeps:
        for cid, fn in ready.items():
            out[cid]["loops"] = loops.get(cid) or calibrate(fn, float(bench["min_sample_s"]), out[cid]["warm_call_s"])
    # Slow cases take fewer samples per process (never fewer than MIN_SAMPLES); the fastest warm call
    # seen decides, so one disturbed call cannot cut a case's samples.
    budget = float(bench["case_budget_s"])
    wanted = {
        cid: max(MIN_SAMPLES, min(int(bench["samples"]), math.floor(budget / max(out[cid]["warm_call_s"], 1e-9))))
        for cid in ready
    }
    for i in range(int(bench["samples"])):
        gc.collect()  # once per sweep, outside the timed calls
        before = ref() if ref is not None else 0.0
        for cid, fn in ready.items():
            if i < wanted[cid]:
                out[cid]["samples"].append(_timed(fn, out[cid]["loops"]))
                if ref is not None:
                    after = ref()
                    out[cid]["ref_s"].append((before + after) / 2)
                    before = after
    return out


def before_import() -> None:
    """Pin this process to its CPU before the framework starts its threads."""
    pin_cpu(int(os.environ.get("MASKCOMPAT_PIN_CPU", "-2")))


def ready_info(stack: Stack) -> dict[str, Any]:
    """The thread settings the timings run with, for the `ready` message."""
    return {"threads": thread_settings(stack)}


def handle(stack: Stack, req: dict[str, Any], stage: Callable[[str], None]) -> dict[str, Any]:
    """Time the requested cases; the raw samples of each, keyed by case id."""
    stage("latency")
    cases = measure(
        stack,
        req["model"],
        req["bench"],
        req["tolerance"],
        req["cases"],
        req.get("loops", {}),
        Path(req["workdir"]),
        refloop.sample,
    )
    return {"cases": cases}
