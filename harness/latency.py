"""Times masked-RNN inference in one cell's environment: Keras variants and the framework floor, same weights.

Runs as a child process like `harness.worker`: a `ready` message after the import, then one request line
on stdin naming the cases; one `result` message back with the raw samples of every case. The parent
(`harness.bench`) starts one such process per cell per round and computes the statistics.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Ids scenario files may use (kept free of framework imports, like harness.builders).
MODEL_KEYS: dict[str, type | tuple[type, ...]] = {
    "units": int,
    "timesteps": int,
    "features": int,
    "batch": int,
    "pad_fraction": (int, float),
    "seed": int,
}
PARAM_IDS: dict[str, tuple[str, ...]] = {
    "rnn": ("lstm", "gru"),
    "model": ("masked", "unmasked", "reloaded", "floor"),
    "call": ("predict_on_batch", "call", "direct"),
}
REQUIRED_PARAMS = ("rnn", "model", "call")
BENCH_KEYS: dict[str, type | tuple[type, ...]] = {
    "rounds": int,
    "samples": int,
    "warmup": int,
    "min_sample_s": (int, float),
    "case_budget_s": (int, float),
    "threads": int,
    "cpu": int,
}
MIN_SAMPLES = 3
MAX_LOOPS = 4096


class CaseError(Exception):
    """A case could not be prepared; `stage` says where."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(str(error))
        self.stage = stage
        self.error = error


def padded_input(cfg: dict[str, Any]) -> tuple[Any, Any]:
    """A seeded float32 batch whose last `pad_fraction` of timesteps are zeros, and each sequence's length."""
    import numpy as np

    rng = np.random.default_rng(int(cfg["seed"]))
    batch, steps, feats = int(cfg["batch"]), int(cfg["timesteps"]), int(cfg["features"])
    x = rng.standard_normal((batch, steps, feats)).astype("float32")
    real = steps - round(steps * float(cfg["pad_fraction"]))
    x[:, real:, :] = 0.0
    return x, np.full((batch,), real, dtype="int64")


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


def thread_env(threads: int) -> dict[str, str]:
    """Variables that fix the CPU threads of every backend before it is imported (0: leave the defaults)."""
    if threads <= 0:
        return {}
    n = str(threads)
    return {
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "TF_NUM_INTRAOP_THREADS": n,
        "TF_NUM_INTEROP_THREADS": n,
        "XLA_FLAGS": f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={n}",
    }


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
    """The cell's models for one input, built once: masked, unmasked (same weights) and reloaded (list route)."""

    def __init__(self, stack: Any, cfg: dict[str, Any], workdir: Path) -> None:
        self.stack = stack
        self.cfg = cfg
        self.workdir = workdir
        self.built: dict[tuple[str, str], Any] = {}

    def _layers(self, rnn: str, mask: Any) -> Any:
        keras = self.stack.keras
        layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[rnn]
        body = [keras.Input(shape=(int(self.cfg["timesteps"]), int(self.cfg["features"])))]
        if mask is not None:
            body.append(keras.layers.Masking(mask_value=mask))
        return keras.Sequential([*body, layer(int(self.cfg["units"])), keras.layers.Dense(1)])

    def get(self, rnn: str, kind: str) -> Any:
        """The model of this kind; the masked one fixes the weights the others copy."""
        key = (rnn, "masked" if kind == "floor" else kind)
        if key in self.built:
            return self.built[key]
        if key[1] == "masked":
            try:
                self.stack.keras.utils.set_random_seed(int(self.cfg["seed"]))
                model = self._layers(rnn, 0.0)
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


def prepare(stack: Any, models: Models, params: dict[str, str], x: Any, lengths: Any) -> tuple[Callable[[], Any], Any]:
    """The callable to time for one case, and the output it must reproduce (None: nothing to compare)."""
    from harness import floors

    rnn, kind, call = params["rnn"], params["model"], params["call"]
    masked = models.get(rnn, "masked")
    expected = None if kind == "unmasked" else masked.predict_on_batch(x)
    if kind == "floor":
        if rnn != "lstm":
            raise CaseError("build", ValueError(f"the framework floor is written for LSTM only, not {rnn}"))
        try:
            return floors.floor(stack.backend, stack.tf, masked, x, lengths), expected
        except Exception as exc:
            raise CaseError("build", exc) from exc
    model = models.get(rnn, kind)
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

    With `ref`, every sample is bracketed by reference runs; `ref_s` holds the mean of the two around it.
    """
    from harness import worker

    x, lengths = padded_input(cfg)
    models = Models(stack, cfg, workdir)
    out: dict[str, dict[str, Any]] = {}
    ready: dict[str, Callable[[], Any]] = {}
    for case in cases:
        cid = case["case_id"]
        try:
            fn, expected = prepare(stack, models, case["params"], x, lengths)
            t0 = time.perf_counter()
            got = as_numpy(fn())
            first = time.perf_counter() - t0
        except CaseError as exc:
            out[cid] = {"outcome": "fail", "failed_stage": exc.stage, **worker.error_fields(exc.error)}
            continue
        except Exception as exc:
            out[cid] = {"outcome": "fail", "failed_stage": "predict", **worker.error_fields(exc)}
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
        res["loops"] = loops.get(cid) or calibrate(fn, float(bench["min_sample_s"]), warm)
        res["samples"] = []
        if ref is not None:
            res["ref_s"] = []
        res["warm_call_s"] = round(warm, 6)
        out[cid] = res
        ready[cid] = fn
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


def main() -> int:
    """Import the stack, say `ready`, time the requested cases, answer with raw samples."""
    from harness import refloop, worker

    reply = os.fdopen(int(os.environ["MASKCOMPAT_RESULT_FD"]), "w", encoding="utf-8")
    flavor = os.environ["MASKCOMPAT_FLAVOR"]
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    t0 = time.perf_counter()
    try:
        pin_cpu(int(os.environ.get("MASKCOMPAT_PIN_CPU", "-2")))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stack = worker.import_stack(flavor, backend)
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
        "threads": thread_settings(stack),
        "import_s": round(time.perf_counter() - t0, 3),
    }
    reply.write(json.dumps(ready) + "\n")
    reply.flush()
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    req = json.loads(line)
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
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
    reply.write(json.dumps({"type": "result", "cases": cases, "duration_s": round(time.perf_counter() - t1, 3)}) + "\n")
    reply.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
