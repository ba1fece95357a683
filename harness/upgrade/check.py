"""Check a user's saved model against the matrix: what it is, what in it is known to break, and what each release
does with it.

The static pass (`harness.upgrade.inspect`) reads the file without a framework and tells each finding with
what the matrix's own rows say about it. The dynamic pass loads a private copy in one child per target cell
(`harness.child.check`): the cell of the saving release, the newest release of each family, and `--to`.
Every target's outputs are compared with a reference: the saving release's own (through the first route
that runs there), else the outputs in the user's `--inputs` file. Where a target cannot load the file,
the routes the matrix knows are tried there, and the one that works is named with the command to apply it.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import rewrite, signature
from harness.decl import handlers
from harness.decl.cells import Cell, Matrix
from harness.readers.report import cell_order
from harness.runner import envs
from harness.runner.child import Launch, Session
from harness.upgrade.inspect import Inspection

JSON_FIELDS = ("cell_id", "tensorflow", "keras", "keras_flavor", "backend", "outcome", "failed_stage", "error_type",
               "error_message", "error_signature", "max_abs_diff", "reference")  # fmt: skip
ROUTES = ("plain", "custom-objects", "repair", "rebuild")
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
FIX = {
    "custom-objects": "load it with custom_objects={'Masking': <a Masking subclass whose from_config untags "
    "mask_value>} (`harness/child/compat.py`: tolerant_masking)",
    "repair": "rewrite the file once: `nox -s repair -- {path} {fixed}` (or `python -m harness repair`), then load "
    "the rewritten file",
    "rebuild": "build the model from its config with the tagged values made plain and load the archive's weights "
    "into it",
}


@dataclass
class Target:
    """A cell to check the file in, and why it was chosen."""

    cell: Cell
    why: str


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
    max_abs_diff: float | None = None
    fix: str | None = None


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


def _work(insp: Inspection, tmp: Path) -> dict[str, Any]:
    """A private copy of the file, its rewritten copy where it holds tagged values, its weights for rebuilding."""
    copy = tmp / insp.path.name
    if insp.path.is_dir():
        shutil.copytree(insp.path, copy)
    else:
        shutil.copyfile(insp.path, copy)
    work: dict[str, Any] = {"file": str(copy), "kind": insp.kind, "repaired": None, "weights": None}
    if insp.kind == "keras" and any(f.kind == "tagged-value" for f in insp.findings):
        fixed = tmp / f"repaired-{insp.path.name}"
        rewrite.repair_file(copy, fixed)
        work["repaired"] = str(fixed)
        with zipfile.ZipFile(copy) as z:
            if "model.weights.h5" in z.namelist():
                (tmp / "model.weights.h5").write_bytes(z.read("model.weights.h5"))
                work["weights"] = str(tmp / "model.weights.h5")
    return work


def run_target(target: Target, insp: Inspection, inputs: Path | None, device: str, timeout: float) -> Result:
    """Install the cell if needed, and have one child load and run the file the routes' way."""
    import numpy as np

    result = Result(target)
    tmp = Path(tempfile.mkdtemp(prefix=f"maskcompat-check-{target.cell.id}-"))
    try:
        interp = envs.install(target.cell, device)
        problems = envs.problems(target.cell, interp)
        if problems:
            result.failed_stage, result.error_type = "install", "InstallError"
            result.error_message = "; ".join(problems)
            return result
        request = {
            **_work(insp, tmp),
            "inputs": str(inputs) if inputs else None,
            "routes": list(ROUTES),
            "lambda": any(f.kind == "lambda" for f in insp.findings),
            "out": str(tmp / "outputs.npz"),
            "tolerance": TOLERANCE,
        }
        session = Session(Launch(interp.python, "check", envs.child_env(target.cell, interp, tmp), tmp, "check"))
        try:
            reply = session.ask(request, timeout)
        finally:
            session.close()
        result.ready = reply.ready
        result.answer = dict(reply.answer or reply.lost or {})
        if (tmp / "outputs.npz").exists():
            with np.load(tmp / "outputs.npz", allow_pickle=False) as data:
                result.outputs = [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def reference_of(results: list[Result], inputs: Path | None) -> tuple[list[Any] | None, str]:
    """The outputs every target is compared with, and what they are."""
    import numpy as np

    saving = next((r for r in results if r.target.why.startswith("the saving release")), None)
    if saving is not None and saving.outputs is not None:
        route = saving.answer.get("route")
        how = "" if route == "plain" else f" (through the {route} route: the file does not run there as saved)"
        return saving.outputs, f"the saving release's outputs, {saving.target.cell.id}{how}"
    if inputs is not None:
        with np.load(inputs, allow_pickle=False) as data:
            outs = [data[k] for k in sorted(data.files) if k.startswith("output")]
        if outs:
            return outs, f"the outputs in {inputs.name}"
    return None, "none: the saving release is not in the matrix or does not run the file, and --inputs holds no outputs"


def judge(result: Result, reference: list[Any] | None) -> None:
    """The target's verdict: `ok`, `mismatch` (by how much), `runs` (nothing to compare with), or the failure."""
    import numpy as np

    a = result.answer
    tries = a.get("tries") or []
    first = tries[0] if tries else a
    if result.error_type == "InstallError":
        result.outcome = "fail"
    elif first.get("outcome") != "ok":
        result.outcome = str(first.get("outcome") or a.get("outcome") or "fail")
        result.failed_stage = first.get("failed_stage") or a.get("failed_stage")
        result.error_type = first.get("error_type") or a.get("error_type")
        result.error_message = first.get("error_message") or a.get("error_message")
        winner = a.get("route")
        if winner and winner != "plain":
            result.fix = winner
    elif reference is None or result.outputs is None:
        result.outcome = "runs"
    else:
        diffs = [
            float(np.max(np.abs(np.asarray(o, "float64") - np.asarray(r, "float64")))) if np.shape(o) == np.shape(r)
            else float("inf")
            for o, r in zip(result.outputs, reference, strict=False)
        ]  # fmt: skip
        result.max_abs_diff = max(diffs) if diffs else None
        same = len(result.outputs) == len(reference) and all(
            np.shape(o) == np.shape(r) and np.allclose(o, r, rtol=TOLERANCE["rtol"], atol=TOLERANCE["atol"])
            for o, r in zip(result.outputs, reference, strict=False)
        )
        result.outcome = "ok" if same else "mismatch"
        if not same:
            result.failed_stage, result.error_type = "equivalence", "Mismatch"
            result.error_message = f"outputs differ from the reference by up to {result.max_abs_diff:.3g}"


def check(
    insp: Inspection,
    targets: list[Target],
    inputs: Path | None,
    device: str,
    jobs: int = 2,
    timeout: float = 600.0,
    done: Callable[[Result, int], None] | None = None,
) -> tuple[list[Result], str]:
    """Every target, `jobs` at a time (`done` hears of each as it ends); the results in version order, and the
    reference."""
    results: list[Result] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        running = [pool.submit(run_target, t, insp, inputs, device, timeout) for t in targets]
        for future in concurrent.futures.as_completed(running):
            results.append(future.result())
            if done is not None:
                done(results[-1], len(results))
    reference, how = reference_of(results, inputs)
    for result in results:
        judge(result, reference)
    results.sort(key=lambda r: cell_order(r.target.cell))
    return results, how


def _keras_version(versions: dict[str, str], cell: Cell) -> str | None:
    installed = versions.get("tf-keras") if cell.flavor == "tf_keras" else versions.get("keras")
    return installed or cell.keras or cell.tf_keras


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
        "error_signature": signature.signature(result.failed_stage, result.error_type, result.error_message)
        if result.outcome not in ("ok", "runs") else None,
        "max_abs_diff": result.max_abs_diff,
        "reference": reference,
        "fix": result.fix,
        "masking": winner.get("masking"),
        "inputs": winner.get("inputs"),
        "routes_tried": tried,
        "measured_by": handlers.CHECK.tag,
    }  # fmt: skip


def exit_code(results: list[Result]) -> int:
    """0 when every target loads the file and predicts the same, else 1."""
    return 0 if results and all(r.outcome == "ok" for r in results) else 1


OBJECTS = {  # a layer class that took a tensor or array value -> the beyond-masking case that measures it
    "Rescaling": "rescaling",
    "Normalization": "normalization",
    "Discretization": "discretization",
    "IntegerLookup": "integer-lookup",
    "StringLookup": "string-lookup",
    "Embedding": "embedding",
    "Dense": "constant",
}


def _fmt(insp: Inspection) -> str:
    return ".h5" if insp.kind == "h5" else ".keras"


def matrix_rows(results: Path) -> list[dict[str, Any]]:
    """The rows of the machine with the most upgrade rows (the evidence the findings cite)."""
    from harness.store import files

    if not results.is_dir():
        return []
    folders = [p for p in sorted(results.iterdir()) if p.is_dir() and any(p.glob("*.upgrade.jsonl.gz"))]
    if not folders:
        return []
    best = max(folders, key=lambda p: sum(f.stat().st_size for f in p.glob("*.upgrade.jsonl.gz")))
    paths = sorted(best.glob("*.upgrade.jsonl.gz")) + sorted(best.glob("*.jsonl"))
    return [r for p in paths for r in files.read_file(p)]


def _loaders(df: Any, savers: list[Cell], matrix: Matrix) -> str:
    from harness.readers import upgrade_report

    good, bad = upgrade_report._ok_loaders(df, savers, matrix)
    return (
        f"loads and predicts the same on {upgrade_report._runs_label(good)}; not on {upgrade_report._runs_label(bad)}"
    )


def evidence(insp: Inspection, rows: list[dict[str, Any]], matrix: Matrix, upgrade: Any) -> dict[str, str]:
    """What the matrix's own rows say: about files this release saves, and about each finding's kind."""
    from harness.readers import upgrade_report

    said: dict[str, str] = {}
    if upgrade is None or not rows:
        return said
    df = upgrade_report.frame(rows, matrix, upgrade)
    same = [c for c in matrix.cells if insp.keras_version and insp.keras_version in (c.keras, c.tf_keras)]
    fmt = _fmt(insp)
    if same and not df.empty:
        plain = df[(df["source"] == f"masking-lstm/list:{fmt}") & (df["text"] != "not saved")]
        if not plain.empty and set(plain["saved_by"]) & {c.id for c in same}:
            said["release"] = (
                f"in the matrix, a plain `{fmt}` model (Masking with a list mask_value -> LSTM) saved by Keras "
                f"{insp.keras_version} " + _loaders(plain, same, matrix)
            )
    for finding in insp.findings:
        if finding.kind != "tagged-value" or finding.kind in said:
            continue
        cls = finding.layer.split(" ")[0]
        value = "tensor" if "__tensor__" in finding.detail else "numpy"
        if cls == "Masking":
            source = f"masking-lstm/{'tensor-float64' if value == 'tensor' else 'numpy'}:{fmt}"
        elif cls in OBJECTS:
            source = f"beyond-masking/{OBJECTS[cls]}:{value}:{fmt}"
        else:
            continue
        sub = df[(df["source"] == source) & (df["text"] != "not saved")]
        savers = [c for c in same if c.id in set(sub["saved_by"])]
        if savers:
            said["tagged-value"] = f"in the matrix, `{source}` saved by Keras {insp.keras_version} " + _loaders(
                sub, savers, matrix
            )
        elif not sub.empty:
            own = sub[sub["saved_by"] == sub["loaded_by"]]
            broken = sorted({str(s) for s, t in zip(own["saved_by"], own["text"], strict=True) if t != "ok"})
            said["tagged-value"] = f"in the matrix, `{source}` fails after a round trip in its own release on " + (
                upgrade_report._runs_label(sorted((matrix.get(b) for b in broken), key=cell_order))
                if broken
                else "no release"
            )
    return said


HAZARDS = {
    "tagged-value": "a tensor or array value stored as a tagged dict; on several releases load_model hands the dict "
    "back to the layer",
    "lambda": "Python code in the file (a Lambda layer): Keras 3 refuses it with safe mode on (the default, and "
    "this check's); Keras 2 has no safe mode and would run it, so Keras 2 targets are not loaded",
    "custom-class": "a class whose code is not in the file: a loading release needs it imported and registered",
    "old-module": "module paths of the Keras 2 layout, which Keras 3 cannot resolve",
    "dtype-policy": "dtype policy objects, which releases before Keras 3.4 do not read",
}


def render(insp: Inspection, results: list[Result], reference: str, said: dict[str, str], command: str) -> str:
    """The markdown report: what the file is, what in it is known to break, what each target made of it."""
    saved = f"saved by Keras {insp.keras_version}" if insp.keras_version else "saving release not recorded"
    when = f" on {insp.date_saved}" if insp.date_saved else ""
    lines = [
        f"# Check of `{insp.path.name}`",
        "",
        f"`{command}`. A {KINDS[insp.kind]}, {saved}{when}"
        + (f", backend {insp.backend}" if insp.backend else "") + ".",
        "",
        f"**{verdict_line(results)}**",
        "",
        "## What is in the file",
        "",
    ]  # fmt: skip
    if not insp.findings:
        lines.append("Nothing the matrix knows to break: no tagged values, no code, no custom classes.")
    for f in insp.findings:
        note = said.get(f.kind, "")
        lines.append(f"- {f.detail} at `{f.where or '/'}`{f' ({f.layer})' if f.layer else ''}: {HAZARDS[f.kind]}"
                     + (f"; {note}." if note else "."))  # fmt: skip
    if "release" in said:
        lines += ["", f"Files of this release: {said['release']}."]
    lines += ["", "## In each release", "", f"Reference outputs: {reference}.", ""]
    lines += [
        "| cell | why | verdict | max \\|diff\\| | masking | a fix that works there |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        mark = {"ok": "ok", "runs": "runs (not compared)", "mismatch": "≠ outputs"}.get(
            r.outcome, f"✗ {r.failed_stage}"
        )
        detail = f" ({r.error_type}: {_one_line(r.error_message)})" if r.outcome not in ("ok", "runs") else ""
        diff = f"{r.max_abs_diff:.3g}" if r.max_abs_diff is not None else "—"
        winner: dict[str, Any] = next((t for t in r.answer.get("tries", []) if t.get("outcome") == "ok"), {})
        lines.append(
            f"| `{r.target.cell.id}` | {r.target.why} | {mark}{detail} | {diff} | {winner.get('masking') or '—'} | "
            + (FIX[r.fix].format(path=insp.path, fixed=_fixed(insp.path)) if r.fix else "—")
            + " |"
        )
    lines += [
        "",
        "The file was read, never changed; the cells loaded a private copy with Keras 3's safe mode on. No code "
        "in the file was executed (a Lambda layer is refused, and not loaded where there is no safe mode).",
    ]
    return "\n".join(lines) + "\n"


KINDS = {
    "keras": "`.keras` archive",
    "h5": "legacy HDF5 (`.h5`) model",
    "savedmodel": "SavedModel folder",
    "weights": "weights-only HDF5 file (no model config: load it into a model built by your code)",
}


def _one_line(text: str | None, width: int = 140) -> str:
    flat = " ".join(str(text or "").split()).replace("|", "\\|")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _fixed(path: Path) -> str:
    return str(path.with_name(f"{path.stem}-fixed{path.suffix}"))


def verdict_line(results: list[Result]) -> str:
    """One sentence: does every target load the file and predict the same?"""
    ok = [r for r in results if r.outcome == "ok"]
    if len(ok) == len(results):
        return f"Loads and predicts the same in all {len(results)} releases checked."
    bad = [f"{r.target.cell.id} ({_short(r)})" for r in results if r.outcome != "ok"]
    return f"Loads and predicts the same in {len(ok)} of {len(results)} releases; not in {', '.join(bad)}."


def _short(result: Result) -> str:
    return result.outcome if result.outcome in ("runs", "mismatch") else f"✗ {result.failed_stage}"
