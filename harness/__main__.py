"""Command line: `python -m harness run|bench|report|repair|cells`; Nox sessions call it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from harness import __version__, fingerprint, scenarios, store, supervisor
from harness import cells as cells_mod
from harness.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cells", type=Path, default=ROOT / "cells" / "cells.toml", help="cells file")
    p.add_argument("--scenarios", type=Path, default=ROOT / "scenarios", help="scenario folder")
    p.add_argument("--results", type=Path, default=ROOT / "results", help="results folder")


def parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    ap = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    ap.add_argument("--version", action="version", version=__version__)
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one cell's cases in the current interpreter (its pinned environment)")
    _common(run)
    run.add_argument("--cell", required=True, help="cell id (see `python -m harness cells`)")
    run.add_argument("--case", action="append", metavar="GLOB", help="only cases whose id matches (repeatable)")
    run.add_argument("--fresh", action="store_true", help="rerun even if up-to-date rows exist")
    run.add_argument("--jobs", type=int, default=2, help="worker processes for this cell (default 2)")
    run.add_argument("--python", default=sys.executable, help="the cell environment's interpreter (default: this one)")
    run.add_argument("--install-log", type=Path, help="installer output, quoted in rows when pins are missing")
    run.add_argument("--label", default="", help="prefix of progress lines")
    run.add_argument("--matrix-start", type=float, help="epoch seconds the matrix run started (for elapsed time)")
    run.add_argument("--after-s", type=float, default=0.0, help="estimated seconds of cells after this one")
    run.add_argument("--invoked-by", default="", help="the command the user ran, stored in rows")

    be = sub.add_parser("bench", help="time the latency scenario in several cells, in interleaved rounds")
    _common(be)
    be.add_argument(
        "--env",
        action="append",
        required=True,
        metavar="CELL=PYTHON",
        help="a cell id and the interpreter of its installed environment (repeatable; one per cell)",
    )
    be.add_argument("--fresh", action="store_true", help="retime even if complete, up-to-date rows exist")
    be.add_argument("--invoked-by", default="", help="the command the user ran, stored in rows")

    rep = sub.add_parser("report", help="render report.md and plots from results/ (never runs TensorFlow)")
    _common(rep)
    rep.add_argument("--out", type=Path, help="report file (default: report.md beside the results folder)")
    rep.add_argument("--plots", type=Path, help="plot folder (default: plots/ inside the results folder)")

    rp = sub.add_parser("repair", help="rewrite tagged tensor/array values in a .keras file, then prove it loads")
    rp.add_argument("src", type=Path, metavar="IN.keras", help="the file that fails to load")
    rp.add_argument("dst", type=Path, metavar="OUT.keras", help="where to write the repaired file")
    rp.add_argument("--no-check", action="store_true", help="only rewrite; do not load and compare")

    cl = sub.add_parser("cells", help="list the cells of the matrix and the excluded ones")
    _common(cl)
    cl.add_argument("--json", action="store_true", help="machine-readable output")
    return ap


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or reuse) one cell and store a row per case."""
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    matrix = cells_mod.load(args.cells, check_rules=False)
    cell = matrix.get(args.cell)
    scens = [s for s in scenarios.load_all(args.scenarios) if not s.timed]  # latency: `harness bench`
    cases = scenarios.select(scens, args.case, (cell.id, cell.tags))
    machine = fingerprint.machine()
    path = store.cell_path(args.results, machine["id"], cell.id)
    label = args.label or f"[{cell.id}]"
    progress = supervisor.Progress(label, args.matrix_start or time.time(), args.after_s)
    if not cases:
        progress.line("no selected case applies to this cell")
        return 0
    if not args.fresh:
        hashes = {s.id: s.hash for s in scens}
        stale = set(store.stale_cases(path, [(c.scenario, c.case_id) for c in cases], hashes, cell.hash, __version__))
        reused = len(cases) - len(stale)
        cases = [c for c in cases if (c.scenario, c.case_id) in stale]
        if not cases:
            progress.line(f"up to date: {reused} rows reused from {path} (use --fresh to rerun)")
            return 0
    invoked = args.invoked_by or f"python -m harness run --cell {cell.id}"
    t0 = time.time()
    run = supervisor.CellRun(
        cell, {s.id: s for s in scens}, cases, args.results, machine, invoked, progress, args.jobs, args.python
    )
    progress.line(f"{len(cases)} cases, {run.jobs} worker(s): {cell.summary}")
    problems = supervisor.install_problems(cell, args.python)
    if problems:
        log = (
            args.install_log.read_text(encoding="utf-8", errors="replace")
            if args.install_log and args.install_log.exists()
            else ""
        )
        counts = run.record_install_failure(problems, log)
    else:
        counts = run.run()
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    progress.line(f"done in {time.time() - t0:.0f}s: {summary} -> {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Time the latency scenario(s) over the given cells; cells whose rows are complete and current are skipped."""
    from harness import bench

    matrix = cells_mod.load(args.cells, check_rules=False)
    timed = [s for s in scenarios.load_all(args.scenarios) if s.timed]
    if not timed:
        raise UserError(f"no latency scenario (builder 'latency') in {args.scenarios}")
    pairs = []
    for item in args.env:
        cell_id, sep, python = item.partition("=")
        if not sep or not python:
            raise UserError(f"--env wants CELL=PYTHON, got {item!r}")
        cell = matrix.get(cell_id)
        if not Path(python).exists():
            raise UserError(
                f'--env {cell_id}: interpreter {python} does not exist; run `nox -s "matrix({cell_id})"` first'
            )
        pairs.append((cell, python))
    machine = fingerprint.machine()
    progress = supervisor.Progress("[bench]", time.time())
    invoked = args.invoked_by or "python -m harness bench"
    for scen in timed:
        targets = []
        for cell, python in pairs:
            cases = scenarios.select([scen], None, (cell.id, cell.tags))
            path = store.cell_path(args.results, machine["id"], cell.id)
            keys = [(c.scenario, c.case_id) for c in cases]
            if cases and (args.fresh or store.stale_cases(path, keys, {scen.id: scen.hash}, cell.hash, __version__)):
                targets.append(bench.Target(cell, python, cases))
        skipped = len(pairs) - len(targets)
        if not targets:
            progress.line(f"{scen.id}: all {skipped} cells up to date (use --fresh to retime)")
            continue
        rounds = int((scen.bench or {})["rounds"])
        progress.line(
            f"{scen.id}: {len(targets)} cells x {rounds} rounds, {len(targets[0].cases)} cases each"
            + (f"; {skipped} up to date" if skipped else "")
        )
        t0 = time.time()
        counts = bench.run(targets, scen, args.results, machine, invoked, progress)
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        progress.line(f"{scen.id}: done in {time.time() - t0:.0f}s: {summary}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Render the report from stored rows only."""
    from harness import report

    matrix = cells_mod.load(args.cells)
    rows = store.read_all(args.results)
    scens = scenarios.load_all(args.scenarios)
    out = args.out or args.results.parent / "report.md"
    plots = args.plots or args.results / "plots"
    report.write(rows, matrix, scens, out, plots)
    print(f"wrote {out} ({len(rows)} rows) and plots in {plots}")
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    """Rewrite a .keras file and (by default) prove the result predicts like the original."""
    from harness import repair

    return repair.main(args.src, args.dst, check=not args.no_check)


def cmd_cells(args: argparse.Namespace) -> int:
    """List cells, one per line (or JSON)."""
    matrix = cells_mod.load(args.cells)
    if args.json:
        data = {
            "cells": [
                {
                    "id": c.id,
                    "python": c.python,
                    "pins": c.pins,
                    "backend": c.backend,
                    "flavor": c.flavor,
                    "roles": list(c.roles),
                }
                for c in matrix.cells
            ],
            "excluded": [{"id": e.id, "reason": e.reason} for e in matrix.excluded],
        }
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    for c in matrix.cells:
        print(f"{c.id:<28} {c.summary}  ({', '.join(c.roles)})")
    for e in matrix.excluded:
        print(f"{e.id:<28} EXCLUDED: {e.reason}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch, and turn UserError into one line on stderr with exit code 2."""
    args = parser().parse_args(argv)
    try:
        return {"run": cmd_run, "bench": cmd_bench, "report": cmd_report, "repair": cmd_repair, "cells": cmd_cells}[
            args.command
        ](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rows stored so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
