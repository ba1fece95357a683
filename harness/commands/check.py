"""`check PATH [PATH ...]`: which releases load your saved model and predict the same, what breaks, what fixes it."""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.commands import common
from harness.decl import cells as cells_mod
from harness.decl import scenarios
from harness.errors import UserError

if TYPE_CHECKING:
    from harness.tools.check import Target

HELP = "check your own saved model: which releases load it and predict the same, where it breaks, which fix works"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The files, the targets, the inputs, the outputs."""
    common.where(p)
    p.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help=".keras, .h5 or .weights.h5 file, or SavedModel folder"
    )
    p.add_argument(
        "--to",
        action="append",
        default=[],
        metavar="SPEC",
        help="also check in this release: a cell id or pins (tf=2.19.1,keras=3.8.0; keras=3.15.1,backend=jax); "
        "pins no cell has make one",
    )
    p.add_argument("--all", action="store_true", help="check in every default cell of the matrix")
    p.add_argument("--only", action="store_true", help="check only in the --to releases (no default targets)")
    p.add_argument(
        "--inputs", type=Path, help=".npz of the model's inputs (arr_0, ...; outputs under output_* are the reference)"
    )
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    p.add_argument(
        "--out",
        type=Path,
        help="write the markdown report here (default: <file>.md beside --json, else in the working directory)",
    )
    p.add_argument("--jobs", type=int, default=2, help="releases checked side by side (default 2)")
    p.add_argument("--static", action="store_true", help="only the static pass: what the file is and what in it breaks")
    p.add_argument(
        "--trust",
        action="store_true",
        help="load the file even in releases that would run code from it (still inside the sandbox; needs bubblewrap)",
    )
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a sandbox limit per target: memory=8G, cpu=3600 (s), file-size=1G, processes=512, wall=600 (s)",
    )
    p.add_argument("--sarif", type=Path, help="write the findings and failing releases as SARIF 2.1.0 here")
    p.add_argument("--keep-sandbox", action="store_true", help="keep each target's sandbox folder and print its path")
    common.device(p)
    common.invoked(p)


def main(args: argparse.Namespace) -> int:
    """Static pass, then one sandboxed child per target that may load the file.

    Exit 0: every target loads it and predicts the same; 1: one does not; 2: bad input; 3: unsafe findings
    (a target refused the file because its release would act on them, or the static pass found such findings).
    """
    from harness.decl import advisories
    from harness.runner import sandbox
    from harness.tools import check, check_report, sarif, unsafe
    from harness.tools.check_evidence import evidence, matrix_rows
    from harness.tools.inspect import inspect

    t0 = time.time()
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    limits = sandbox.Limits()
    for text in args.limit:
        limits = sandbox.parse_limit(text, limits)
    if args.trust and not args.static and not sandbox.probe().complete:
        raise UserError(f"--trust runs code from the file, which needs a sandbox without network and with a "
                        f"read-only file system, and this machine gives none: {sandbox.probe().why_not}")  # fmt: skip
    catalog = advisories.load()
    if args.inputs is not None and not args.inputs.is_file():
        raise UserError(f"--inputs {args.inputs}: no such file")
    if args.out is not None and len(args.paths) > 1:
        raise UserError("--out names one report: give one PATH, or leave --out out (reports go to check/<file>.md)")
    inspections = [inspect(path) for path in args.paths]  # every path is checked before anything runs
    # The static pass runs in a user's own environment, which may lack `packaging`: the release rules that check
    # the cells file need it, the file's findings do not.
    matrix = cells_mod.load(
        args.cells, check_rules=not args.static or importlib.util.find_spec("packaging") is not None
    )
    scens = scenarios.load_all(args.scenarios)
    upgrade = next((s for s in scens if s.handler == "upgrade"), None)
    device = common.resolve_device(args.device)
    extra = [_target(spec, matrix, args.cells) for spec in args.to]
    rows = matrix_rows(args.results)
    command = args.invoked_by or common.command_line()
    options = check.Options(args.inputs, device, args.jobs, limits, args.trust, args.keep_sandbox)
    statement = sandbox.Sandbox(Path("."), limits, sandbox.probe(), device).statement()
    if not args.static:
        print("sandbox: " + "; ".join(f"{k}: {v}" for k, v in statement.items()), flush=True)
    records, code = [], 0
    for insp in inspections:
        said = evidence(insp, rows, matrix, upgrade)
        base = [] if args.only or args.static else check.default_targets(insp, matrix)
        if args.all:
            base += [check.Target(c, "a default cell") for c in matrix.cells if c.default]
        targets = _unique(base + extra)
        if not targets and not args.static:
            raise UserError("no release to check in: give --to SPEC, or leave out --only")
        saver = check.saving_cell(insp, matrix) if args.only and not args.static else None
        if saver is not None and all(t.cell.id != saver.id for t in targets):  # the reference, not a verdict
            why = f"the saving release (Keras {insp.keras_version}), for the reference only"
            targets.append(check.Target(saver, why, reference_only=True))
        saved_by = f", saved by Keras {insp.keras_version}" if insp.keras_version else ""
        judged = [t for t in targets if not t.reference_only]
        also = f" (and in {saver.id} for the reference outputs)" if saver and len(judged) < len(targets) else ""
        doing = "the static pass only" if args.static else f"checking in {len(judged)} release(s){also}"
        print(
            f"{insp.path}: a {check_report.KINDS[insp.kind]}{saved_by}; {len(insp.risks)} unsafe and "
            f"{len(insp.findings)} compatibility finding(s); {doing}",
            flush=True,
        )
        for line in check_report.risk_lines(insp, catalog):
            print(f"  ! {line}", flush=True)
        for f in insp.findings:
            print(
                f"  - {f.detail} ({f.layer or f.where})" + (f": {said[f.kind]}" if f.kind in said else ""), flush=True
            )
        for key, text in said.items():  # the zoo's kinds the file is made of, and what their rows say
            if key.startswith("zoo:"):
                print(f"  = a `{key[4:]}` model: {text}", flush=True)
        risks = [{**r.__dict__, "acted_on_by": unsafe.acting(r, insp.kind, catalog)} for r in insp.risks]
        record: dict[str, Any] = {
            "path": str(insp.path),
            "kind": insp.kind,
            "keras_version": insp.keras_version,
            "date_saved": insp.date_saved,
            "risks": risks,
            "findings": [f.__dict__ for f in insp.findings],
            "matrix_says": said,
            "sandbox": None if args.static else statement,
            "reference": None,
            "targets": [],
        }
        records.append(record)
        if args.static:
            if any(r["acted_on_by"] for r in risks):
                code = max(code, check.UNSAFE)
            continue
        t1 = time.time()

        def done(result: check.Result, n: int, total: int = len(targets), t1: float = t1) -> None:
            state = (
                "refused (its release would act on the file's findings)" if result.refused and not result.answer
                else "loaded and ran" if result.outputs is not None else "did not run it"
            )  # fmt: skip
            print(f"  [{n}/{total}] {result.target.cell.id} {state} ({time.time() - t1:.0f}s)", flush=True)

        results, reference = check.check(insp, targets, options, catalog, done=done)
        for r in results:
            diff = f", max |diff| {r.max_abs_diff:.3g}" if r.max_abs_diff is not None else ""
            fix = (
                f"; the {r.fix} route works there: {check_report.fix_text(r.fix, insp.path, r.target.cell.id)}"
                if r.fix
                else ""
            )
            told = r.error_type if r.error_type in ("Refused", "SandboxLimit") else check_report.because(r)
            stage = f" at {r.failed_stage} ({told})" if r.outcome not in ("ok", "runs") else ""
            why = f": {r.error_message}" if r.error_type in ("Refused", "SandboxLimit") else ""
            kept = f"; sandbox kept at {r.kept}" if r.kept else ""
            print(f"  {r.target.cell.id:<30} {r.outcome}{stage}{diff}{fix}{why}{kept}", flush=True)
        print(f"  reference: {reference}", flush=True)
        print(f"  {check_report.verdict_line(results)}", flush=True)
        out = args.out or (args.json.parent if args.json else Path.cwd()) / f"{insp.path.name}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            check_report.render(insp, results, reference, said, command, catalog, statement), encoding="utf-8"
        )
        print(f"  wrote {out}", flush=True)
        record.update(reference=reference, targets=[check.record(r, reference) for r in results])
        code = max(code, check.exit_code(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"files": records, "seconds": round(time.time() - t0, 1)}, indent=1) + "\n")
        print(f"wrote {args.json}")
    if args.sarif:
        args.sarif.parent.mkdir(parents=True, exist_ok=True)
        args.sarif.write_text(json.dumps(sarif.document(records, catalog), indent=1) + "\n")
        print(f"wrote {args.sarif}")
    print(f"took {time.time() - t0:.0f}s", flush=True)
    return code


def _target(spec: str, matrix: cells_mod.Matrix, cells_file: Path) -> Target:
    from harness.tools import check

    try:
        return check.Target(cells_mod.resolve(spec, matrix), f"--to {spec}")
    except UserError as exc:
        if not str(exc).startswith("no cell has"):
            raise
        return check.Target(cells_mod.from_spec(spec, cells_file), f"--to {spec} (a cell made for it)")


def _unique(targets: list[Target]) -> list[Target]:
    seen: set[str] = set()
    out = []
    for t in targets:
        if t.cell.id not in seen:
            seen.add(t.cell.id)
            out.append(t)
    return out
