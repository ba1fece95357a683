"""`check PATH [PATH ...]`: which releases load your saved model and predict the same, what breaks, what fixes it."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands import common
from harness.decl import cells as cells_mod
from harness.decl import scenarios
from harness.errors import UserError

if TYPE_CHECKING:
    from harness.upgrade.check import Target

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
        "--out", type=Path, help="write the markdown report here (default: check/<file>.md in the repository)"
    )
    p.add_argument("--jobs", type=int, default=2, help="releases checked side by side (default 2)")
    p.add_argument("--static", action="store_true", help="only the static pass: what the file is and what in it breaks")
    common.device(p)
    common.invoked(p)


def main(args: argparse.Namespace) -> int:
    """Static pass, then one child per target; exit 0 when every target loads and predicts the same, 1 if not."""
    from harness.upgrade import check
    from harness.upgrade.inspect import inspect

    t0 = time.time()
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    if args.inputs is not None and not args.inputs.is_file():
        raise UserError(f"--inputs {args.inputs}: no such file")
    if args.out is not None and len(args.paths) > 1:
        raise UserError("--out names one report: give one PATH, or leave --out out (reports go to check/<file>.md)")
    inspections = [inspect(path) for path in args.paths]  # every path is checked before anything runs
    matrix = cells_mod.load(args.cells)
    scens = scenarios.load_all(args.scenarios)
    upgrade = next((s for s in scens if s.handler == "upgrade"), None)
    device = common.resolve_device(args.device)
    extra = [_target(spec, matrix, args.cells) for spec in args.to]
    rows = check.matrix_rows(args.results)
    command = args.invoked_by or common.command_line()
    records, code = [], 0
    for insp in inspections:
        said = check.evidence(insp, rows, matrix, upgrade)
        base = [] if args.only else check.default_targets(insp, matrix)
        if args.all:
            base += [check.Target(c, "a default cell") for c in matrix.cells if c.default]
        targets = _unique(base + extra)
        if not targets:
            raise UserError("no release to check in: give --to SPEC, or leave out --only")
        saved_by = f", saved by Keras {insp.keras_version}" if insp.keras_version else ""
        doing = "the static pass only" if args.static else f"checking in {len(targets)} release(s)"
        print(
            f"{insp.path}: a {check.KINDS[insp.kind]}{saved_by}; {len(insp.findings)} finding(s); {doing}", flush=True
        )
        for f in insp.findings:
            print(
                f"  - {f.detail} ({f.layer or f.where})" + (f": {said[f.kind]}" if f.kind in said else ""), flush=True
            )
        record = {
            "path": str(insp.path),
            "kind": insp.kind,
            "keras_version": insp.keras_version,
            "date_saved": insp.date_saved,
            "findings": [f.__dict__ for f in insp.findings],
            "matrix_says": said,
            "reference": None,
            "targets": [],
        }
        records.append(record)
        if args.static:
            continue
        t1 = time.time()

        def done(result: check.Result, n: int, total: int = len(targets), t1: float = t1) -> None:
            state = "loaded and ran" if result.outputs is not None else "did not run it"
            print(f"  [{n}/{total}] {result.target.cell.id} {state} ({time.time() - t1:.0f}s)", flush=True)

        results, reference = check.check(insp, targets, args.inputs, device, args.jobs, done=done)
        for r in results:
            diff = f", max |diff| {r.max_abs_diff:.3g}" if r.max_abs_diff is not None else ""
            fix = f"; the {r.fix} route works there" if r.fix else ""
            stage = f" at {r.failed_stage} ({r.error_type})" if r.outcome not in ("ok", "runs") else ""
            print(f"  {r.target.cell.id:<30} {r.outcome}{stage}{diff}{fix}", flush=True)
        print(f"  reference: {reference}", flush=True)
        print(f"  {check.verdict_line(results)}", flush=True)
        out = args.out or common.ROOT / "check" / f"{insp.path.name}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(check.render(insp, results, reference, said, command), encoding="utf-8")
        print(f"  wrote {out}", flush=True)
        record.update(reference=reference, targets=[check.record(r, reference) for r in results])
        code = max(code, check.exit_code(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"files": records, "seconds": round(time.time() - t0, 1)}, indent=1) + "\n")
        print(f"wrote {args.json}")
    print(f"took {time.time() - t0:.0f}s", flush=True)
    return code


def _target(spec: str, matrix: cells_mod.Matrix, cells_file: Path) -> Target:
    from harness.upgrade import check

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
