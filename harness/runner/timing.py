"""Runs latency scenarios over many cells in interleaved rounds and stores one row per case with statistics.

Round r starts one child of the `latency` handler per cell, cell after cell (the order reverses every other
round), so each cell's samples come from several processes spread over the whole run: a slow period of
the machine touches every cell alike. Around every process the parent times a fixed numpy reference,
whose drift over the run is stored with the rows. Rows are written after every round (`complete`
false until the last), so an interrupted run keeps what it measured and a rerun redoes only those cells.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import stats
from harness.decl.cells import Cell
from harness.decl.scenarios import Case, Scenario
from harness.runner import envs, fingerprint
from harness.runner.child import Launch, Session
from harness.runner.envs import Interpreter
from harness.runner.progress import Progress
from harness.store import fresh, rowfiles
from harness.store.rows import ERROR_KEYS, make_row


@dataclass
class Target:
    """One cell to time: its interpreter, extra import path (wheel folders), and what was gathered so far."""

    cell: Cell
    interp: Interpreter
    cases: list[Case]
    ready: dict[str, Any] = field(default_factory=dict)
    loops: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[list[float]]] = field(default_factory=dict)
    refs: dict[str, list[list[float]]] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    lost: list[dict[str, Any]] = field(default_factory=list)
    reference_s: list[float] = field(default_factory=list)
    steal: list[float | None] = field(default_factory=list)
    started: float = 0.0
    busy_s: float = 0.0
    compile_cache: Path | None = None  # jax's persistent compilation cache for this run's processes of the cell


def cache_env(target: Target, bench: dict[str, Any]) -> dict[str, str]:
    """Where a jax cell's processes keep compiled functions, when the bench asks: compiling, not running, is much of
    a sweep's time, and the later rounds compile the same functions again (the first call is not a sample)."""
    if not bench.get("compile_cache") or target.cell.backend != "jax":
        return {}
    if target.compile_cache is None:
        target.compile_cache = Path(tempfile.mkdtemp(prefix=f"maskcompat-jit-{target.cell.id}-"))
    return {
        "JAX_COMPILATION_CACHE_DIR": str(target.compile_cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    }


@contextlib.contextmanager
def compile_caches(targets: list[Target]) -> Iterator[None]:
    """Removes the targets' compile caches when the run ends, however it ends: they serve one run only."""
    try:
        yield
    finally:
        for target in targets:
            if target.compile_cache is not None:
                shutil.rmtree(target.compile_cache, ignore_errors=True)
                target.compile_cache = None


def reference_s() -> float:
    """Median seconds of a fixed numpy workload in this (the parent's, never changing) interpreter."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((192, 192))
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(20):
            a = np.tanh(a @ a.T / 192.0)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def machine_speed_s(python: str = sys.executable, processes: int = 3) -> float | None:
    """This machine's speed now: the reference loop's fastest run in a few fresh processes of `python`.

    Fresh processes, because one process can stay in a slow state for its whole life on a VM.
    """
    found = []
    for _ in range(processes):
        proc = subprocess.run(
            [python, "-m", "harness.child.refloop"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(envs.ROOT)},
        )
        with contextlib.suppress(ValueError):
            found.append(float(proc.stdout.strip()))
    return min(found) if found else None


def speed_check(rows: list[dict[str, Any]], machine_id: str) -> str | None:
    """Why the stored latency rows of this machine cannot be reused here now (None: they can, or there are none)."""
    timed = [r for r in rows if r.get("latency") and r["machine"]["id"] == machine_id]
    if not timed:
        return None
    minor = ".".join(platform.python_version_tuple()[:2])
    speeds = stats.reference_speeds(timed)
    recorded = min((v for (m, _, py), v in speeds.items() if m == machine_id and py == minor), default=None)
    if recorded is None:
        return None
    return fresh.speed_reason(recorded, machine_speed_s())


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


def one_process(target: Target, scen: Scenario, round_no: int) -> None:
    """Start the cell's timing child, send its cases, fold the answer into the target."""
    tmp = Path(tempfile.mkdtemp(prefix=f"maskcompat-bench-{target.cell.id}-"))
    bench = scen.bench or {}
    extra = {**thread_env(int(bench["threads"])), "MASKCOMPAT_PIN_CPU": str(int(bench["cpu"])),
             **cache_env(target, bench)}  # fmt: skip
    t0 = time.time()
    session = Session(Launch(target.interp.python, scen.handler, envs.child_env(target.cell, target.interp, tmp, extra),
                             tmp, scen.handler))  # fmt: skip
    request = {
        "model": scen.model,
        "bench": scen.bench,
        "tolerance": scen.tolerance,
        "cases": [{"case_id": c.case_id, "params": c.params} for c in target.cases],
        "loops": target.loops,
        "workdir": str(tmp),
    }
    try:
        reply = session.ask(request, scen.timeout_s)
    finally:
        session.close()
        target.busy_s += time.time() - t0
        shutil.rmtree(tmp, ignore_errors=True)
    if reply.ready:
        target.ready = target.ready if reply.ready.get("type") != "ready" and target.ready else reply.ready
    if reply.answer is None:
        lost = dict(reply.lost or {})
        target.lost.append({"round": round_no, **lost, "failed_stage": lost.get("failed_stage") or "latency"})
        return
    for cid, res in reply.answer["cases"].items():
        first = target.answers.get(cid, {}).get("first_call_s")
        if first is not None and target.compile_cache is not None:  # the call that compiled, not a cache load
            res = {**res, "first_call_s": first}
        target.answers[cid] = res
        if res.get("samples"):
            target.loops.setdefault(cid, int(res["loops"]))
            target.samples.setdefault(cid, []).append([float(v) for v in res["samples"]])
            target.refs.setdefault(cid, []).append([float(v) for v in res.get("ref_s") or []])


def rows_for(
    target: Target, scen: Scenario, machine: dict[str, Any], invoked_by: str, rounds_done: int, run_id: str = ""
) -> list[dict[str, Any]]:
    """A row per case from what the rounds so far gathered (`run_id`: the bench run they belong to)."""
    out = []
    complete = rounds_done >= int((scen.bench or {})["rounds"])
    for case in target.cases:
        res = target.answers.get(case.case_id)
        per_process = target.samples.get(case.case_id, [])
        fields: dict[str, Any] = {
            "run_id": run_id,
            "complete": complete,
            "rounds": rounds_done,
            "threads": target.ready.get("threads", {}),
            "reference_s": target.reference_s,
            "steal_fraction": target.steal,
        }
        if per_process:
            summary = stats.summarise(per_process, target.loops[case.case_id])
            lost = len(target.lost)
            if lost:
                summary["warnings"].append(f"{lost} of {rounds_done} processes gave no samples")
            fields["latency"] = {**summary, "samples_s": per_process}
            refs = target.refs.get(case.case_id, [])
            if refs and all(len(r) == len(p) for r, p in zip(refs, per_process, strict=True)):
                fields["latency"]["vs_ref"] = {**stats.normalised(per_process, refs), "ref_s": refs}
            for key in ("first_call_s", "max_abs_diff"):
                if res and key in res:
                    fields[key] = res[key]
            outcome = res["outcome"] if res else "ok"
            for key in ERROR_KEYS:
                if res and res.get(key):
                    fields[key] = res[key]
        elif res:
            outcome = res["outcome"]
            fields.update({k: res.get(k) for k in ERROR_KEYS})
            if "traceback_tail" in res:
                fields["traceback_tail"] = res["traceback_tail"]
        else:
            last = target.lost[-1] if target.lost else {"outcome": "crash", "failed_stage": "latency"}
            outcome = last["outcome"]
            fields.update({k: last.get(k) for k in ERROR_KEYS})
        out.append(
            make_row(
                target.cell,
                scen,
                case,
                target.ready,
                machine,
                invoked_by,
                outcome,
                target.started,
                target.busy_s,
                **fields,
            )
        )
    return out


def previous_of(row: dict[str, Any]) -> dict[str, Any] | None:
    """What a timing row keeps of the run before it: its run, medians and 95% CIs (seconds, and over the reference),
    and its samples per process (what paired ratios between cases are taken from)."""
    lat = row.get("latency")
    if not lat or row.get("complete") is False:
        return None
    ref = lat.get("vs_ref") or {}
    return {"run_id": row.get("run_id"), "median_s": lat.get("median_s"), "ci95_s": lat.get("ci95_s"),
            "samples_s": lat.get("samples_s"),
            "vs_ref": {"median": ref.get("median"), "ci95": ref.get("ci95")} if ref else None}  # fmt: skip


def carry_previous(rows: list[dict[str, Any]], old: dict[tuple[str, str], dict[str, Any]], run_id: str) -> None:
    """Each new row keeps the previous run of the same declaration (cell pins, scenario, handler version) in
    `previous`, so a run replacing another loses nothing the readers compare runs by; a later round of the same
    run carries what its first round carried."""
    for row in rows:
        before = old.get((row["scenario"], row["case_id"]))
        if before is None or any(before.get(k) != row.get(k) for k in ("cell_hash", "scenario_hash", "measured_by")):
            continue
        carried = before.get("previous") if before.get("run_id") == run_id else previous_of(before)
        if carried:
            row["previous"] = carried


def fits(now: float, spent: float, done: int, deadline: float | None) -> bool:
    """Whether one more timing process, lasting the mean so far, ends by the deadline (None: no deadline)."""
    return deadline is None or now + (spent / done if done else 0.0) <= deadline


def run(
    targets: list[Target],
    scen: Scenario,
    results: Path,
    machine: dict[str, Any],
    invoked_by: str,
    progress: Progress,
    deadline: float | None = None,
    *,
    clock: Callable[[], float] = time.time,
    process: Callable[[Target, Scenario, int], None] = one_process,
) -> dict[str, int]:
    """All rounds over all targets; rows are stored after every round. Returns the count of each outcome.

    With a deadline (seconds on `clock`) no timing process starts that would, at the mean so far, end after
    it: a device lent for minutes gets whole processes, and the cells left short stay `complete: false`.
    """
    rounds = int((scen.bench or {})["rounds"])
    total = rounds * len(targets)
    done, spent = 0, 0.0
    counts: dict[str, int] = {}
    run_id = f"{machine['id']}@{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
    if progress.estimate is not None:
        progress.estimate.begin(scen.handler, total)
    with compile_caches(targets):
        for r in range(1, rounds + 1):
            order = targets if r % 2 else targets[::-1]
            for target in order:
                if not fits(clock(), spent, done, deadline):
                    progress.line(f"time limit: stopped after {done} of {total} timing processes (round {r}/{rounds})")
                    counts["unfinished"] = sum(1 for t in targets if len(t.reference_s) < rounds)  # one per process
                    return counts
                target.started = target.started or time.time()
                ref_before = reference_s()
                t0 = clock()
                ticks = fingerprint.cpu_ticks()
                process(target, scen, r)
                target.steal.append(fingerprint.steal_fraction(ticks, fingerprint.cpu_ticks()))
                spent += clock() - t0
                done += 1
                target.reference_s.append(round((ref_before + reference_s()) / 2, 6))
                rows = rows_for(target, scen, machine, invoked_by, r, run_id)
                path = rowfiles.cell_path(results, machine["id"], target.cell.id)
                carry_previous(rows, fresh.rows_by_case(path), run_id)
                rowfiles.upsert(path, rows, [(scen.id, c.case_id) for c in scen.cases()])
                if progress.estimate is not None:
                    progress.estimate.tick(scen.handler)
                progress.line(f"round {r}/{rounds} {target.cell.id:<34} {_headline(rows)}")
                if r == rounds:
                    for row in rows:
                        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    return counts


def _headline(rows: list[dict[str, Any]]) -> str:
    """The masked-LSTM median and how many cases are ok, for the progress line."""
    ok = sum(1 for r in rows if r["outcome"] == "ok")
    text = f"{ok}/{len(rows)} ok"
    for row in rows:
        if row["case_id"] == "lstm:masked:predict_on_batch" and "latency" in row:
            lat = row["latency"]
            text += f", masked LSTM predict_on_batch {lat['median_s'] * 1e3:.1f} ms (n={lat['n']})"
        elif row["outcome"] != "ok":
            text += f"; {row['case_id']} {row['outcome']}@{row['failed_stage']}"
    return text
