"""Runs one cell: worker processes with an explicit environment and per-case timeouts; every case a row.

A worker that crashes or hangs costs only the case it was running: that case becomes a `crash` or
`timeout` row, a new worker starts, and the batch goes on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import harness
from harness import builders, schema, signature, store
from harness.cells import Cell
from harness.scenarios import Case, Scenario

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 600.0
# Variables a worker inherits from the parent; everything else it gets is set explicitly.
PASSED_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "LD_LIBRARY_PATH",
    # GPU runs: several jax workers share one card; compiled programs are reused across timing processes
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "JAX_COMPILATION_CACHE_DIR",
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
    "NVIDIA_TF32_OVERRIDE",  # 0: cuBLAS/cuDNN keep float32 (TF32 is on by default in cuDNN on Ampere and later)
)


class WorkerGone(Exception):
    """The worker process ended without answering."""


class WorkerHung(Exception):
    """The worker did not answer within the timeout."""


def lost_fields(
    exc: WorkerGone | WorkerHung, code: int | None, stage: str, timeout: float, log_tail: str, who: str
) -> dict[str, Any]:
    """The row fields of a child that died (`crash`) or did not answer in time (`timeout`)."""
    hung = isinstance(exc, WorkerHung)
    return {
        "outcome": "timeout" if hung else "crash",
        "failed_stage": stage,
        "error_type": "Timeout" if hung else "WorkerCrashed",
        "error_message": f"no answer within {timeout:g}s" if hung else f"{who} exited with code {code}: {log_tail}",
    }


def error_of(msg: dict[str, Any]) -> dict[str, Any]:
    """The error fields of a child's `import_error` message."""
    return {k: msg.get(k) for k in ("error_type", "error_message")}


class Worker:
    """One child process in the cell's interpreter, answering case requests over a pipe."""

    def __init__(self, python: str, env: dict[str, str], log: Path, cwd: Path, module: str = "harness.worker") -> None:
        read_fd, write_fd = os.pipe()
        self.log = log
        self._log_fh = log.open("ab")
        self.proc = subprocess.Popen(
            [python, "-m", module],
            stdin=subprocess.PIPE,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            env={**env, "MASKCOMPAT_RESULT_FD": str(write_fd)},
            cwd=cwd,
            start_new_session=True,
        )
        os.close(write_fd)
        self._fd = read_fd
        self._buf = b""
        self.stage: str | None = None

    def send(self, request: dict[str, Any]) -> None:
        """Write one request line; a dead worker raises WorkerGone."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerGone() from None

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next non-stage message; stage messages update `self.stage`."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                msg = json.loads(line)
                if msg.get("type") == "stage":
                    self.stage = msg["name"]
                    continue
                return dict(msg)
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerHung()
            ready, _, _ = select.select([self._fd], [], [], left)
            if ready:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    raise WorkerGone()
                self._buf += chunk

    def log_tail(self, chars: int = 1500) -> str:
        """The end of the worker's stdout/stderr, for crash rows."""
        try:
            return self.log.read_bytes()[-chars:].decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self, kill: bool = False) -> int | None:
        """Stop the worker (politely unless `kill`) and return its exit code."""
        try:
            if kill:
                os.killpg(self.proc.pid, signal.SIGKILL)
            elif self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (subprocess.TimeoutExpired, ProcessLookupError, OSError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self._fd)
        self._log_fh.close()
        return self.proc.returncode


@dataclass
class Progress:
    """Where this cell stands in a matrix run, for the one-line-per-case output."""

    label: str
    matrix_start: float
    after_s: float = 0.0
    out: TextIO = sys.stdout
    lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self, text: str, cell_left_s: float | None = None) -> None:
        """Print one line with elapsed time and, when known, an estimate of what is left."""
        elapsed = time.time() - self.matrix_start
        tail = f"elapsed {_mmss(elapsed)}"
        if cell_left_s is not None:
            tail += f", ~{_mmss(cell_left_s + self.after_s)} left"
        with self.lock:
            print(f"{self.label} {text}  [{tail}]", file=self.out, flush=True)


def _mmss(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _dist_name(pin: str) -> tuple[str, str]:
    name, _, version = pin.partition("==")
    return name.split("[")[0].strip(), version.strip()


_PROBE = """
import importlib.metadata as m, json, platform, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = m.version(name)
    except m.PackageNotFoundError:
        pass
print(json.dumps({"python": platform.python_version(), "versions": found}))
"""


def _public(version: str) -> str:
    """The release without its local build label (`2.11.0+cu130` -> `2.11.0`): CPU and CUDA builds compare equal."""
    return version.split("+")[0]


def install_problems(
    cell: Cell, python: str, pythonpath: list[str] | None = None, pins: list[str] | None = None
) -> list[str]:
    """Pins (default: the cell's CPU pins) its interpreter lacks at the pinned release (or why it cannot tell)."""
    pins = pins if pins is not None else cell.pins
    names = [_dist_name(pin)[0] for pin in pins]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath)} if pythonpath else None
    try:
        proc = subprocess.run([python, "-c", _PROBE, *names], capture_output=True, text=True, timeout=120, env=env)
        seen = json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        return [f"cannot run the cell's interpreter {python}: {exc}"]
    problems = []
    if seen["python"] != cell.python and not seen["python"].startswith(cell.python + "."):
        problems.append(f"python is {seen['python']}, the cell pins {cell.python}")
    for pin in pins:
        name, version = _dist_name(pin)
        have = seen["versions"].get(name)
        if have is None:
            problems.append(f"{name} is not installed (pinned {version})")
        elif _public(have) != _public(version):
            problems.append(f"{name} is {have}, pinned {version}")
    return problems


def base_env(cell: Cell, tmp: Path, pythonpath: list[str]) -> dict[str, str]:
    """A child's explicit environment: allow-listed variables, the cell's switches, a private home and temp."""
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update(cell.env)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT), *pythonpath]),
            "PYTHONHASHSEED": "0",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "KERAS_HOME": str(tmp / "keras_home"),
            "TMPDIR": str(tmp),
            "MPLBACKEND": "Agg",
        }
    )
    return env


def make_row(
    cell: Cell,
    scen: Scenario,
    case: Case,
    ready: dict[str, Any],
    machine: dict[str, Any],
    invoked_by: str,
    outcome: str,
    started: float,
    duration: float,
    **fields: Any,
) -> dict[str, Any]:
    """A complete result row for one case; `ready` is the worker's ready (or import failure) message."""
    versions = ready.get("versions", {})
    tf_version = versions.get("tensorflow-cpu") or versions.get("tensorflow")
    keras_version = versions.get("tf-keras") if cell.flavor == "tf_keras" else versions.get("keras")
    err_type, err_msg = fields.pop("error_type", None), fields.pop("error_message", None)
    stage = fields.pop("failed_stage", None)
    return {
        "schema": schema.SCHEMA_VERSION,
        "harness_version": harness.__version__,
        "scenario": case.scenario,
        "scenario_hash": scen.hash,
        "cell_id": cell.id,
        "cell_hash": cell.hash,
        "case_id": case.case_id,
        "params": case.params,
        **case.params,
        "python": ready.get("python", cell.python),
        "tensorflow": tf_version if versions else cell.tensorflow,
        "keras": keras_version if versions else (cell.tf_keras or cell.keras),
        "keras_flavor": cell.flavor,
        "backend": cell.backend,
        "device": ready.get("device", "unknown"),
        "outcome": outcome,
        "failed_stage": stage,
        "error_type": err_type,
        "error_message": err_msg,
        "error_signature": signature.signature(stage, err_type, err_msg) if outcome != "ok" else None,
        "started_at": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(duration, 3),
        "machine": machine,
        "packages": versions,
        "invoked_by": invoked_by,
        **fields,
    }


class CellRun:
    """State shared by the worker threads of one cell run."""

    def __init__(
        self,
        cell: Cell,
        scenarios: dict[str, Scenario],
        cases: list[Case],
        results: Path,
        machine: dict[str, Any],
        invoked_by: str,
        progress: Progress,
        jobs: int,
        python: str,
        pythonpath: list[str] | None = None,
    ) -> None:
        self.cell = cell
        self.python = python
        self.pythonpath = pythonpath or []
        self.scenarios = scenarios
        self.cases = cases
        self.path = store.cell_path(results, machine["id"], cell.id)
        self.order = [(s.id, c.case_id) for s in scenarios.values() for c in s.cases()]
        self.machine = machine
        self.invoked_by = invoked_by
        self.progress = progress
        self.jobs = max(1, min(jobs, len(self.groups())))
        self.ready: dict[str, Any] | None = None
        self.import_failure: dict[str, Any] | None = None
        self.lock = threading.Lock()
        self.done = 0
        self.case_time = 0.0
        self.counts: dict[str, int] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix=f"maskcompat-{cell.id}-"))

    # ---- rows -------------------------------------------------------------------------------------
    def row(self, case: Case, outcome: str, started: float, duration: float, **fields: Any) -> dict[str, Any]:
        """A complete result row for one case."""
        return make_row(
            self.cell,
            self.scenarios[case.scenario],
            case,
            self.ready or self.import_failure or {},
            self.machine,
            self.invoked_by,
            outcome,
            started,
            duration,
            **fields,
        )

    def record(self, case: Case, row: dict[str, Any]) -> None:
        """Store the row at once (atomic rewrite) and print its progress line."""
        with self.lock:
            store.upsert(self.path, [row], self.order)
            self.done += 1
            self.case_time += row["duration_s"]
            self.counts[row["outcome"]] = self.counts.get(row["outcome"], 0) + 1
            left_cases = len(self.cases) - self.done
            cell_left = self.case_time / self.done * left_cases / self.jobs
        verdict = row["outcome"] if row["outcome"] == "ok" else f"{row['outcome']}@{row['failed_stage']}"
        detail = f" {row['error_type']}" if row.get("error_type") else ""
        self.progress.line(f"{case.case_id:<24} {verdict:<28}{detail} ({row['duration_s']:.1f}s)", cell_left)

    # ---- workers ----------------------------------------------------------------------------------
    def worker_env(self) -> dict[str, str]:
        """The explicit environment of a worker: allow-listed variables plus the cell's switches."""
        return base_env(self.cell, self.tmp, self.pythonpath)

    def start_worker(self, slot: int) -> Worker | None:
        """Start a worker and wait until it has imported the stack; None when the import failed."""
        worker = Worker(self.python, self.worker_env(), self.tmp / f"worker-{slot}.log", self.tmp)
        started = time.time()
        try:
            msg = worker.receive(STARTUP_TIMEOUT_S)
        except (WorkerGone, WorkerHung) as exc:
            hung = isinstance(exc, WorkerHung)
            code = worker.close(kill=True)
            with self.lock:
                self.import_failure = self.import_failure or {
                    "outcome": "timeout" if hung else "crash",
                    "error_type": "WorkerHung" if hung else "WorkerCrashed",
                    "error_message": (
                        f"worker did not finish importing in {STARTUP_TIMEOUT_S:.0f}s"
                        if hung
                        else f"worker exited with code {code} while importing: {worker.log_tail()}"
                    ),
                }
            return None
        if msg["type"] == "import_error":
            worker.close()
            with self.lock:
                self.import_failure = self.import_failure or {**msg, "outcome": "fail"}
            return None
        with self.lock:
            if self.ready is None:
                self.ready = msg
                v = msg["versions"]
                self.progress.line(
                    f"worker ready in {time.time() - started:.1f}s: "
                    + ", ".join(f"{k} {v[k]}" for k in sorted(v))
                    + f", device {msg['device']}"
                )
        return worker

    def run_one(self, worker: Worker, case: Case) -> tuple[dict[str, Any], bool]:
        """Run a case on a worker; returns the row and whether the worker is still usable."""
        scen = self.scenarios[case.scenario]
        workdir = Path(tempfile.mkdtemp(prefix="case-", dir=self.tmp))
        started = time.time()
        worker.stage = None
        try:
            worker.send(
                {
                    "case_id": case.case_id,
                    "builder": scen.builder,
                    "model": scen.model,
                    "tolerance": scen.tolerance,
                    "params": case.params,
                    "workdir": str(workdir),
                }
            )
            msg = worker.receive(scen.timeout_s)
        except (WorkerHung, WorkerGone) as lost:
            code = worker.close(kill=True)
            hung = isinstance(lost, WorkerHung)
            return self.row(
                case,
                "timeout" if hung else "crash",
                started,
                time.time() - started,
                failed_stage=worker.stage,
                error_type="Timeout" if hung else "WorkerCrashed",
                error_message=(
                    f"no answer within {scen.timeout_s:g}s"
                    if hung
                    else f"worker exited with code {code}: {worker.log_tail()}"
                ),
            ), False
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        fields = {k: msg.get(k) for k in ("failed_stage", "error_type", "error_message")}
        extra = {k: msg[k] for k in ("stage_s", "details", "warnings", "traceback_tail") if k in msg}
        return self.row(case, msg["outcome"], started, msg["duration_s"], **fields, **extra), True

    def import_row(self, case: Case) -> dict[str, Any]:
        """The row of a case that could not run because the stack did not import."""
        f = self.import_failure or {}
        return self.row(
            case,
            f.get("outcome", "fail"),
            time.time(),
            0.0,
            failed_stage="import",
            error_type=f.get("error_type"),
            error_message=f.get("error_message"),
            **({"traceback_tail": f["traceback_tail"]} if "traceback_tail" in f else {}),
        )

    def slot(self, slot: int, todo: queue.Queue[list[Case]]) -> None:
        """One worker thread: take groups of cases until none are left, replacing the worker after a crash."""
        worker: Worker | None = None
        try:
            while True:
                try:
                    group = todo.get_nowait()
                except queue.Empty:
                    return
                for case in group:
                    if worker is None and self.import_failure is None:
                        worker = self.start_worker(slot)
                    if worker is None:
                        self.record(case, self.import_row(case))
                        continue
                    row, alive = self.run_one(worker, case)
                    if not alive:
                        worker = None
                    self.record(case, row)
        finally:
            if worker is not None:
                worker.close()

    def groups(self) -> list[list[Case]]:
        """Cases that start from the same model, together, so one worker builds it once for all of them."""
        by_key: dict[str, list[Case]] = {}
        for case in self.cases:
            scen = self.scenarios[case.scenario]
            by_key.setdefault(builders.build_key(scen.builder, scen.model, case.params), []).append(case)
        return list(by_key.values())

    def run(self) -> dict[str, int]:
        """Run all cases over `jobs` workers; returns the count of each outcome."""
        try:
            todo: queue.Queue[list[Case]] = queue.Queue()
            for group in self.groups():
                todo.put(group)
            threads = [threading.Thread(target=self.slot, args=(i, todo), daemon=True) for i in range(self.jobs)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return self.counts

    def record_install_failure(self, problems: list[str], install_log: str) -> dict[str, int]:
        """Every case becomes a `fail` row at stage `install`, carrying the installer's message."""
        message = "; ".join(problems)
        if install_log:
            message += "\n--- installer output (end) ---\n" + install_log[-2500:]
        rows = [
            self.row(
                c, "fail", time.time(), 0.0, failed_stage="install", error_type="InstallError", error_message=message
            )
            for c in self.cases
        ]
        store.upsert(self.path, rows, self.order)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.progress.line(f"install failed: {problems[0]}")
        return {"fail": len(rows)}
