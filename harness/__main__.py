"""Command line: `python -m harness run|bench|inplace|spread|report|repair|cells`; Nox sessions call it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

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
    run.add_argument("--device", default="cpu", help="cpu (CPU builds), gpu (CUDA builds installed), or auto")

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
    be.add_argument("--case", action="append", metavar="GLOB", help="only latency cases whose id matches")
    be.add_argument("--invoked-by", default="", help="the command the user ran, stored in rows")
    be.add_argument("--device", default="cpu", help="cpu, gpu or auto (as for run); GPU rows get their own machine id")

    ip = sub.add_parser(
        "inplace", help="run cells in this interpreter without installing: keras from wheel folders (GPU machine)"
    )
    _common(ip)
    ip.add_argument("--wheels", type=Path, required=True, help="folder with one keras-<version>/ folder of wheels each")
    ip.add_argument("--cell", action="append", metavar="ID", help="cell to run (repeatable; default: all with --tag)")
    ip.add_argument("--tag", action="append", help="run the cells that have every given tag (repeatable; default: gpu)")
    ip.add_argument("--case", action="append", metavar="GLOB", help="only cases whose id matches (repeatable)")
    ip.add_argument("--fresh", action="store_true", help="rerun even if up-to-date rows exist")
    ip.add_argument("--jobs", type=int, default=2, help="worker processes per cell for the correctness cases")
    ip.add_argument("--no-bench", action="store_true", help="skip the latency scenario")
    ip.add_argument("--device", default="auto", help="cpu, gpu or auto (default: gpu where nvidia-smi sees one)")
    ip.add_argument("--invoked-by", default="", help="the command the user ran, stored in rows")

    sp = sub.add_parser("spread", help="how far latency medians moved between two runs (two results folders)")
    sp.add_argument("first", type=Path, metavar="RESULTS_A", help="results folder of the first run")
    sp.add_argument("second", type=Path, metavar="RESULTS_B", help="results folder of the second run")
    sp.add_argument("--scenario", default="latency", help="latency scenario id (default: latency)")
    sp.add_argument("--out", type=Path, help="also write the markdown here")
    sp.add_argument(
        "--statistic",
        default="corrected_s",
        help="corrected_s (default: median over the in-process reference, in seconds), median_s, q1_s, min_s or mean_s",
    )

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


def _device(value: str) -> str:
    try:
        return fingerprint.resolve_device(value)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _applicable(scen: scenarios.Scenario, cell: cells_mod.Cell, patterns: list[str] | None) -> list[scenarios.Case]:
    """The scenario's cases that apply to the cell and match the patterns (all when there are none)."""
    if not scen.applies_to(cell.id, cell.tags):
        return []
    return [c for c in scen.cases() if not patterns or scenarios.matches(c, patterns)]


def run_cell(
    cell: cells_mod.Cell,
    scens: list[scenarios.Scenario],
    patterns: list[str] | None,
    results: Path,
    machine: dict[str, Any],
    python: str,
    progress: supervisor.Progress,
    *,
    fresh: bool = False,
    jobs: int = 2,
    invoked: str = "",
    install_log: Path | None = None,
    pins: list[str] | None = None,
    pythonpath: list[str] | None = None,
) -> None:
    """Run (or reuse) one cell's correctness cases and store a row per case."""
    scens = [s for s in scens if not s.timed]  # latency: `harness bench`
    cases = [c for s in scens for c in _applicable(s, cell, patterns)]
    path = store.cell_path(results, machine["id"], cell.id)
    if not cases:
        progress.line("no selected case applies to this cell")
        return
    if not fresh:
        hashes = {s.id: s.hash for s in scens}
        stale = set(store.stale_cases(path, [(c.scenario, c.case_id) for c in cases], hashes, cell.hash, __version__))
        reused = len(cases) - len(stale)
        cases = [c for c in cases if (c.scenario, c.case_id) in stale]
        if not cases:
            progress.line(f"up to date: {reused} rows reused from {path} (use --fresh to rerun)")
            return
    t0 = time.time()
    run = supervisor.CellRun(
        cell,
        {s.id: s for s in scens},
        cases,
        results,
        machine,
        invoked or f"python -m harness run --cell {cell.id}",
        progress,
        jobs,
        python,
        pythonpath,
    )
    progress.line(f"{len(cases)} cases, {run.jobs} worker(s): {cell.summary}")
    problems = supervisor.install_problems(cell, python, pythonpath, pins)
    if problems:
        log = install_log.read_text(encoding="utf-8", errors="replace") if install_log and install_log.exists() else ""
        counts = run.record_install_failure(problems, log)
    else:
        counts = run.run()
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    progress.line(f"done in {time.time() - t0:.0f}s: {summary} -> {path}")


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or reuse) one cell and store a row per case."""
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    matrix = cells_mod.load(args.cells, check_rules=False)
    cell = matrix.get(args.cell)
    scens = scenarios.load_all(args.scenarios)
    scenarios.select(scens, args.case)  # an unknown pattern is an error before anything runs
    device = _device(args.device)
    machine = fingerprint.machine(device)
    progress = supervisor.Progress(args.label or f"[{cell.id}]", args.matrix_start or time.time(), args.after_s)
    run_cell(
        cell,
        scens,
        args.case,
        args.results,
        machine,
        args.python,
        progress,
        fresh=args.fresh,
        jobs=args.jobs,
        invoked=args.invoked_by,
        install_log=args.install_log,
        pins=cell.gpu_pins if device == "gpu" else cell.pins,
    )
    return 0


def bench_cells(
    targets: list[tuple[cells_mod.Cell, str, list[str]]],
    scens: list[scenarios.Scenario],
    patterns: list[str] | None,
    results: Path,
    machine: dict[str, Any],
    progress: supervisor.Progress,
    *,
    fresh: bool = False,
    invoked: str = "",
    gpu_builds: bool = False,
) -> None:
    """Time the latency scenario(s) over (cell, interpreter, extra import path) targets; current cells are skipped."""
    from harness import bench

    timed = [s for s in scens if s.timed]
    if not timed:
        raise UserError("no latency scenario (builder 'latency') among the scenarios")
    for scen in timed:
        todo = []
        for cell, python, pythonpath in targets:
            cases = _applicable(scen, cell, patterns)
            path = store.cell_path(results, machine["id"], cell.id)
            keys = [(c.scenario, c.case_id) for c in cases]
            if not cases or not (fresh or store.stale_cases(path, keys, {scen.id: scen.hash}, cell.hash, __version__)):
                continue
            pins = cell.gpu_pins if gpu_builds else cell.pins
            problems = supervisor.install_problems(cell, python, pythonpath, pins)
            if problems:
                progress.line(f"{cell.id}: not timed, the environment lacks its pins: {problems[0]}")
                failed = supervisor.CellRun(
                    cell, {scen.id: scen}, cases, results, machine, invoked, progress, 1, python, pythonpath
                )
                failed.record_install_failure(problems, "")
                continue
            todo.append(bench.Target(cell, python, cases, pythonpath))
        skipped = len(targets) - len(todo)
        if not todo:
            progress.line(f"{scen.id}: nothing to time ({skipped} cells up to date or not installed; --fresh retimes)")
            continue
        rounds = int((scen.bench or {})["rounds"])
        progress.line(
            f"{scen.id}: {len(todo)} cells x {rounds} rounds, {len(todo[0].cases)} cases each"
            + (f"; {skipped} up to date" if skipped else "")
        )
        t0 = time.time()
        counts = bench.run(todo, scen, results, machine, invoked or "python -m harness bench", progress)
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        progress.line(f"{scen.id}: done in {time.time() - t0:.0f}s: {summary}")


def cmd_bench(args: argparse.Namespace) -> int:
    """Time the latency scenario(s) over the given cells; cells whose rows are complete and current are skipped."""
    matrix = cells_mod.load(args.cells, check_rules=False)
    targets: list[tuple[cells_mod.Cell, str, list[str]]] = []
    for item in args.env:
        cell_id, sep, python = item.partition("=")
        if not sep or not python:
            raise UserError(f"--env wants CELL=PYTHON, got {item!r}")
        cell = matrix.get(cell_id)
        if not Path(python).exists():
            raise UserError(
                f'--env {cell_id}: interpreter {python} does not exist; run `nox -s "matrix({cell_id})"` first'
            )
        targets.append((cell, python, []))
    device = _device(args.device)
    machine = fingerprint.machine(device)
    progress = supervisor.Progress("[bench]", time.time())
    scens = scenarios.load_all(args.scenarios)
    bench_cells(
        targets,
        scens,
        args.case,
        args.results,
        machine,
        progress,
        fresh=args.fresh,
        invoked=args.invoked_by,
        gpu_builds=device == "gpu",
    )
    return 0


def cmd_inplace(args: argparse.Namespace) -> int:
    """Run cells in this interpreter (no installs): Keras and its missing dependencies come from wheel folders."""
    from harness import wheels

    matrix = cells_mod.load(args.cells, check_rules=False)
    tags = args.tag or ["gpu"]
    chosen = [matrix.get(c) for c in args.cell] if args.cell else [c for c in matrix.cells if set(tags) <= set(c.tags)]
    if not chosen:
        raise UserError(f"no cell has tag(s) {tags}; pass --cell ID or other --tag values")
    if not args.wheels.is_dir():
        raise UserError(f"wheel folder {args.wheels} does not exist (one sub-folder keras-<version> per Keras release)")
    scens = scenarios.load_all(args.scenarios)
    scenarios.select(scens, args.case)  # an unknown pattern is an error before anything runs
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    machine = fingerprint.machine(_device(args.device))
    invoked = args.invoked_by or "python -m harness inplace " + " ".join(sys.argv[2:])
    start = time.time()
    with wheels.unpacked(args.wheels, [c for c in chosen if c.keras]) as sites:
        targets: list[tuple[cells_mod.Cell, str, list[str]]] = []
        for i, cell in enumerate(chosen, 1):
            progress = supervisor.Progress(f"[{i:>2}/{len(chosen)} {cell.id}]", start)
            site = sites.get(cell.id)
            pythonpath = [str(site)] if site else []
            run_cell(
                cell,
                scens,
                args.case,
                args.results,
                machine,
                sys.executable,
                progress,
                fresh=args.fresh,
                jobs=args.jobs,
                invoked=invoked,
                pythonpath=pythonpath,
            )
            if site:  # bench_cells checks the pins itself and records a mismatch as `install` rows
                targets.append((cell, sys.executable, pythonpath))
            else:
                progress.line(f"no wheels for keras {cell.keras} in {args.wheels}; not timed")
        if targets and not args.no_bench:
            bench_cells(
                targets,
                scens,
                args.case,
                args.results,
                machine,
                supervisor.Progress("[bench]", start),
                fresh=args.fresh,
                invoked=invoked,
            )
    return 0


def cmd_spread(args: argparse.Namespace) -> int:
    """Print (and optionally write) the run-to-run movement of latency medians."""
    from harness import compare

    first = compare.medians(args.first, args.scenario, args.statistic)
    table = compare.spread(first, compare.medians(args.second, args.scenario, args.statistic))
    text = compare.render(table, compare.summary(table))
    print(text, end="")
    if args.out:
        args.out.write_text(text, encoding="utf-8")
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
        return {
            "run": cmd_run,
            "bench": cmd_bench,
            "inplace": cmd_inplace,
            "spread": cmd_spread,
            "report": cmd_report,
            "repair": cmd_repair,
            "cells": cmd_cells,
        }[args.command](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rows stored so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
