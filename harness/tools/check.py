"""Check a user's saved model against the matrix: what it is, what in it is known to break, and what each release
does with it.

The static pass (`harness.tools.inspect`) reads the file without a framework and tells each finding with
what the matrix's own rows say about it, and each risky finding with the releases that would act on it
(`harness.tools.unsafe`): a target whose release would run the file's code is refused (`skip`) unless the
user trusts the file. The dynamic pass loads a read-only copy in one sandboxed child per target cell
(`harness.runner.sandbox`, `harness.child.check`): the cell of the saving release, the newest release of each
family, and `--to`.
Every target's outputs are compared with a reference: the saving release's own (through the first route
that runs there), else the outputs in the user's `--inputs` file. Where a target cannot load the file,
the routes the matrix knows are tried there, and the one that works is named with the command to apply it.
"""

from __future__ import annotations

import concurrent.futures
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import rewrite, signature
from harness.decl import causes, handlers, shim
from harness.decl.advisories import Entry
from harness.decl.cells import Cell, Matrix
from harness.readers.model import cell_order
from harness.runner import envs
from harness.runner.child import Launch, Session
from harness.runner.sandbox import Limits, Sandbox
from harness.tools import unsafe
from harness.tools.inspect import Inspection

JSON_FIELDS = ("cell_id", "tensorflow", "keras", "keras_flavor", "backend", "outcome", "failed_stage", "error_type",
               "error_message", "error_signature", "max_abs_diff", "reference")  # fmt: skip
ROUTES = ("plain", "custom-objects", "repair", "shim", "rebuild")
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
FIX = {
    "custom-objects": "load it with custom_objects={'Masking': <a Masking subclass whose from_config untags "
    "mask_value>} (`harness/child/compat.py`: tolerant_masking)",
    "repair": "rewrite the file once: `nox -f {noxfile} -s repair -- {path} {fixed}`, then load the rewritten file",
    "shim": "rewrite the file once for this release: `nox -f {noxfile} -s repair -- --for {cell} {path} {fixed}`, "
    "then load the rewritten file",
    "rebuild": "build the model from its config with the tagged values made plain and load the archive's weights "
    "into it",
}


@dataclass(frozen=True)
class Options:
    """How to check: the user's inputs, the device, targets side by side, the sandbox's limits, trust, keep."""

    inputs: Path | None = None
    device: str = "cpu"
    jobs: int = 2
    limits: Limits = field(default_factory=Limits)
    trust: bool = False  # load even where the release would act on a risky finding (inside the sandbox)
    keep: bool = False  # keep each target's sandbox folder
    routes: tuple[str, ...] = ROUTES  # tried in order until one loads and runs


@dataclass
class Target:
    """A cell to check the file in, and why it was chosen (`reference_only`: the saving release, loaded for the
    outputs the others are compared with and not judged itself, as `--only` asks)."""

    cell: Cell
    why: str
    reference_only: bool = False
    routes: tuple[str, ...] | None = None  # the routes to try there (None: the options')


@dataclass
class Result:
    """What one target made of the file."""

    target: Target
    answer: dict[str, Any] = field(default_factory=dict)
    ready: dict[str, Any] = field(default_factory=dict)
    outputs: list[Any] | None = None  # the first route that ran: its outputs
    outcome: str = "fail"
    failed_stage: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_cause_type: str | None = None  # the exception that started the failure, where the child recorded one
    error_cause_message: str | None = None
    max_abs_diff: float | None = None
    fix: str | None = None
    fix_diff: float | None = None  # the fix's largest difference from the reference (None: nothing to compare)
    refused: list[unsafe.Refusal] = field(default_factory=list)  # what the release would act on
    limit: str | None = None  # the sandbox limit the child went over
    written: list[str] = field(default_factory=list)  # files the child left in its sandbox
    shim_file: tuple[str, bytes] | None = None  # the copy the shim route wrote (name, content), where it ran
    kept: str | None = None  # the sandbox folder, when kept


def newest(cells: list[Cell]) -> Cell:
    """The newest cell by its Keras (or tf-keras) release, then TensorFlow."""
    from packaging.version import Version

    return max(cells, key=lambda c: (Version(c.tf_keras or c.keras or "0"), Version(c.tensorflow or "0")))


def saving_cell(insp: Inspection, matrix: Matrix) -> Cell | None:
    """The default cell of the release that saved the file (tf-default first), when the matrix has one."""
    v = insp.keras_version
    if not v:
        return None
    pool = [c for c in matrix.cells if c.default and (c.keras == v or c.tf_keras == v)]
    if insp.backend:
        pool = [c for c in pool if c.backend == insp.backend] or pool
    pool.sort(key=lambda c: ("tf-default" not in c.roles, c.backend != "tensorflow", "python-axis" in c.roles))
    return pool[0] if pool else None


def default_targets(insp: Inspection, matrix: Matrix) -> list[Target]:
    """The saving release's cell, and the newest release of each family."""
    out: list[Target] = []
    saver = saving_cell(insp, matrix)
    if saver is not None:
        out.append(Target(saver, f"the saving release (Keras {insp.keras_version})"))
    defaults = [c for c in matrix.cells if c.default and "python-axis" not in c.roles]
    families = {
        "Keras 2 (tf.keras)": [c for c in defaults if c.flavor == "keras2"],
        "tf-keras": [c for c in defaults if c.flavor == "tf_keras"],
        "Keras 3 on TensorFlow": [c for c in defaults if c.flavor == "keras3" and c.backend == "tensorflow"],
        "Keras 3 on jax": [c for c in defaults if c.flavor == "keras3" and c.backend == "jax"],
        "Keras 3 on torch": [c for c in defaults if c.flavor == "keras3" and c.backend == "torch"],
    }
    for name, pool in families.items():
        if pool:
            cell = newest(pool)
            if all(t.cell.id != cell.id for t in out):
                out.append(Target(cell, f"the newest {name}"))
    return out


def _work(insp: Inspection, box: Sandbox, inputs: Path | None) -> dict[str, Any]:
    """Read-only copies in the sandbox: the file, its rewritten copy where it holds tagged values, its weights
    for rebuilding, the user's inputs."""
    copy = box.take(insp.path)
    inn = copy.parent
    work: dict[str, Any] = {"file": str(copy), "kind": insp.kind, "repaired": None, "weights": None, "inputs": None}
    if insp.kind == "keras" and any(f.kind == "tagged-value" for f in insp.findings):
        fixed = inn / f"repaired-{insp.path.name}"
        rewrite.repair_file(copy, fixed)
        work["repaired"] = str(fixed)
        with zipfile.ZipFile(copy) as z:
            if "model.weights.h5" in z.namelist():
                (inn / "model.weights.h5").write_bytes(z.read("model.weights.h5"))
                work["weights"] = str(inn / "model.weights.h5")
    if inputs is not None:
        work["inputs"] = str(box.take(inputs))
    box.seal()
    return work


def _outputs(path: Path) -> list[Any] | None:
    """The outputs the child wrote (never through a link it may have planted), in order."""
    import numpy as np

    if path.is_symlink() or not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]


def _shim_file(out: Path, answer: dict[str, Any]) -> tuple[str, bytes] | None:
    """The copy the shim route wrote for this release, where it loaded and ran (never through a planted link)."""
    tried = next((t for t in answer.get("tries", []) if t.get("route") == "shim" and t.get("outcome") == "ok"), None)
    if tried is None:
        return None
    path = out / Path(str(tried.get("shim_file"))).name
    if path.parent != out or path.is_symlink() or not path.is_file():
        return None
    return path.name, path.read_bytes()


def run_target(target: Target, insp: Inspection, options: Options) -> Result:
    """Install the cell if needed, and have one sandboxed child load and run the file the routes' way."""
    result = Result(target)
    box = Sandbox.make(f"maskcompat-check-{target.cell.id}-", options.limits, options.device)
    try:
        interp = envs.install(target.cell, options.device)
        problems = envs.problems(target.cell, interp)
        if problems:
            result.failed_stage, result.error_type = "install", "InstallError"
            result.error_message = "; ".join(problems)
            return result
        request = {
            **_work(insp, box, options.inputs),
            "routes": list(target.routes or options.routes),
            "out": str(box.root / "out" / "outputs.npz"),
            "shim": shim.request(),
            "shim_out": str(box.root / "out" / "shim"),
            "tolerance": TOLERANCE,
        }
        env = box.env(envs.child_env(target.cell, interp, box.root))
        prefix = tuple(box.command([], envs.reads(interp)))
        wall = options.limits.wall
        session = Session(Launch(interp.python, "check", env, box.root, "check", wall, prefix=prefix))
        try:
            reply = session.ask(request, wall)
        finally:
            session.close()
        result.ready = reply.ready
        result.answer = dict(reply.answer or reply.lost or {})
        result.written = box.written()
        result.outputs = _outputs(box.root / "out" / "outputs.npz")
        result.shim_file = _shim_file(box.root / "out", result.answer)
        first = (result.answer.get("tries") or [result.answer])[0]
        if reply.lost is not None and reply.lost.get("outcome") == "timeout":
            result.limit = f"went over the sandbox's limit of {options.limits.describe('wall')}"
        elif first.get("outcome") not in ("ok", "skip"):
            result.limit = box.explain(session.exit_code, str(first.get("error_message") or ""))
        return result
    finally:
        box.close(keep=options.keep)
        result.kept = str(box.root) if options.keep else None


def reference_of(results: list[Result], inputs: Path | None) -> tuple[list[Any] | None, str]:
    """The outputs every target is compared with, and what they are: the saving release's (the user's own outputs
    in `--inputs` come first where that release is loaded only for the reference)."""
    import numpy as np

    given = None
    if inputs is not None:
        with np.load(inputs, allow_pickle=False) as data:
            given = [data[k] for k in sorted(data.files) if k.startswith("output")] or None
    saving = next((r for r in results if r.target.why.startswith("the saving release")), None)
    if saving is not None and saving.outputs is not None and not (given and saving.target.reference_only):
        route = saving.answer.get("route")
        how = "" if route == "plain" else f" (through the {route} route: the file does not run there as saved)"
        return saving.outputs, f"the saving release's outputs, {saving.target.cell.id}{how}"
    if given and inputs is not None:
        return given, f"the outputs in {inputs.name}"
    return None, "none: the saving release is not in the matrix or does not run the file, and --inputs holds no outputs"


def _differs(outputs: list[Any] | None, reference: list[Any] | None) -> float | None:
    """The largest difference from the reference (inf where shapes differ; None: nothing to compare)."""
    import numpy as np

    if outputs is None or reference is None:
        return None
    diffs = [
        float(np.max(np.abs(np.asarray(o, "float64") - np.asarray(r, "float64")))) if np.shape(o) == np.shape(r)
        else float("inf")
        for o, r in zip(outputs, reference, strict=False)
    ]  # fmt: skip
    return max(diffs) if diffs else None


def _same(outputs: list[Any], reference: list[Any]) -> bool:
    import numpy as np

    return len(outputs) == len(reference) and all(
        np.shape(o) == np.shape(r) and np.allclose(o, r, rtol=TOLERANCE["rtol"], atol=TOLERANCE["atol"])
        for o, r in zip(outputs, reference, strict=False)
    )


def fix_proven(result: Result, reference: list[Any] | None) -> bool | None:
    """Whether the route named as the fix gives the reference's outputs there (None: nothing to compare with)."""
    if result.fix is None or reference is None or result.outputs is None:
        return None
    return _same(result.outputs, reference)


def judge(result: Result, reference: list[Any] | None) -> None:
    """The target's verdict: `ok`, `mismatch` (by how much), `runs` (nothing to compare with), or the failure."""

    a = result.answer
    tries = a.get("tries") or []
    first = tries[0] if tries else a
    if result.error_type == "InstallError":
        result.outcome = "fail"
    elif result.refused and not result.answer:
        result.outcome, result.failed_stage, result.error_type = "skip", "load", "Refused"
        result.error_message = "not loaded: " + "; ".join(r.text(result.target.cell) for r in result.refused)
    elif result.limit:
        result.outcome, result.failed_stage = "fail", first.get("failed_stage") or a.get("failed_stage")
        result.error_type = "SandboxLimit"
        result.error_message = f"the child {result.limit}: {first.get('error_message') or a.get('error_message')}"
    elif first.get("outcome") != "ok":
        result.outcome = str(first.get("outcome") or a.get("outcome") or "fail")
        result.failed_stage = first.get("failed_stage") or a.get("failed_stage")
        result.error_type = first.get("error_type") or a.get("error_type")
        result.error_message = first.get("error_message") or a.get("error_message")
        result.error_cause_type = first.get("error_cause_type")
        result.error_cause_message = first.get("error_cause_message")
        winner = a.get("route")
        if winner and winner != "plain":
            result.fix = winner
            result.fix_diff = _differs(result.outputs, reference)
            if fix_proven(result, reference) is False:  # it loads there but predicts otherwise: not a fix
                result.fix = None
    elif reference is None or result.outputs is None:
        result.outcome = "runs"
    else:
        result.max_abs_diff = _differs(result.outputs, reference)
        same = result.max_abs_diff is not None and _same(result.outputs, reference)
        result.outcome = "ok" if same else "mismatch"
        if not same:
            result.failed_stage, result.error_type = "equivalence", "Mismatch"
            result.error_message = f"outputs differ from the reference by up to {result.max_abs_diff:.3g}"


def check(
    insp: Inspection,
    targets: list[Target],
    options: Options,
    catalog: list[Entry],
    done: Callable[[Result, int], None] | None = None,
) -> tuple[list[Result], str]:
    """Every target, `options.jobs` at a time (`done` hears of each as it ends): refused where the release would
    act on a risky finding (unless trusted), else loaded in its sandbox; the results in version order, and the
    reference."""
    results: list[Result] = []
    loading: list[Target] = []
    for target in targets:
        refused = unsafe.refusals(insp, target.cell, catalog)
        if refused and not options.trust:
            results.append(Result(target, refused=refused))
            if done is not None:
                done(results[-1], len(results))
        else:
            loading.append(target)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        running = {pool.submit(run_target, t, insp, options): t for t in loading}
        for future in concurrent.futures.as_completed(running):
            result = future.result()
            result.refused = unsafe.refusals(insp, result.target.cell, catalog)  # trusted: loaded anyway
            results.append(result)
            if done is not None:
                done(results[-1], len(results))
    reference, how = reference_of(results, options.inputs)
    for result in results:
        judge(result, reference)
    results = [r for r in results if not r.target.reference_only]
    results.sort(key=lambda r: cell_order(r.target.cell))
    return results, how


def _keras_version(versions: dict[str, str], cell: Cell) -> str | None:
    installed = versions.get("tf-keras") if cell.flavor == "tf_keras" else versions.get("keras")
    return installed or cell.keras or cell.tf_keras


def cause_of(result: Result) -> str | None:
    """Why a target failed, as the cause catalog names it (`unexplained` where none fits); None where it did not."""
    if result.outcome in ("ok", "runs", "skip"):
        return None
    row = {k: getattr(result, k) for k in ("outcome", "failed_stage", "error_type", "error_message",
                                           "error_cause_type", "error_cause_message")}  # fmt: skip
    return causes.classify(row, causes.load())


def record(result: Result, reference: str) -> dict[str, Any]:
    """One target as the JSON output holds it."""
    versions = result.ready.get("versions", {})
    cell = result.target.cell
    tried = [
        {k: t.get(k) for k in ("route", "outcome", "failed_stage", "error_type")}
        for t in result.answer.get("tries", [])
    ]
    winner: dict[str, Any] = next((t for t in result.answer.get("tries", []) if t.get("outcome") == "ok"), {})
    return {
        "cell_id": cell.id,
        "why": result.target.why,
        "tensorflow": versions.get("tensorflow-cpu") or versions.get("tensorflow") or cell.tensorflow,
        "keras": _keras_version(versions, cell),
        "keras_flavor": cell.flavor,
        "backend": cell.backend,
        "outcome": result.outcome,
        "failed_stage": result.failed_stage,
        "error_type": result.error_type,
        "error_message": result.error_message,
        "error_cause_type": result.error_cause_type,
        "error_cause_message": result.error_cause_message,
        "error_signature": signature.signature(result.failed_stage, result.error_type, result.error_message,
                                               result.error_cause_type, result.error_cause_message)
        if result.outcome not in ("ok", "runs") else None,
        "cause": cause_of(result),
        "max_abs_diff": result.max_abs_diff,
        "reference": reference,
        "fix": result.fix,
        "fix_max_abs_diff": result.fix_diff,
        "masking": winner.get("masking"),
        "inputs": winner.get("inputs"),
        "routes_tried": tried,
        "refused_by": sorted({e.id for r in result.refused for e in r.entries}),
        "trusted": bool(result.refused) and bool(result.answer),
        "refused_by_release": result.outcome == "fail" and unsafe.refused_by_release(result.error_message),
        "limit": result.limit,
        "scratch_copy": any("scratch_copy" in t for t in result.answer.get("tries", [])),
        "written": result.written,
        "sandbox_kept": result.kept,
        "measured_by": handlers.CHECK.tag,
    }  # fmt: skip


def exit_code(results: list[Result]) -> int:
    """0: every target loads the file and predicts the same; 3: a target refused it for what it holds (this check,
    or the release's own safe mode); 1: another target does not load or predict the same."""
    if any(r.outcome == "skip" and r.error_type == "Refused" for r in results) or any(
        r.outcome == "fail" and unsafe.refused_by_release(r.error_message) for r in results
    ):
        return UNSAFE
    return 0 if results and all(r.outcome == "ok" for r in results) else 1


UNSAFE = 3  # the exit code for a file some release would act on
