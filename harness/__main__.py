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
    ip.add_argument(
        "--time-limit",
        type=float,
        default=0,
        metavar="SECONDS",
        help="start no timing process that would end later than this after the command started (a lent device)",
    )
    ip.add_argument("--device", default="auto", help="cpu, gpu or auto (default: gpu where nvidia-smi sees one)")
    ip.add_argument("--invoked-by", default="", help="the command the user ran, stored in rows")

    sp = sub.add_parser("spread", help="how far latency medians moved between two runs (two results folders)")
    sp.add_argument("first", type=Path, metavar="RESULTS_A", help="results folder of the first run")
    sp.add_argument("second", type=Path, metavar="RESULTS_B", help="results folder of the second run")
    sp.add_argument("--scenario", default="latency", help="latency scenario id (default: latency)")
    sp.add_argument("--out", type=Path, help="also write the markdown here")
    sp.add_argument(
        "--statistic",
        default="ratio",
        help="ratio (default: median of sample / in-process reference), corrected_s (the same in seconds), "
        "median_s, q1_s, min_s or mean_s",
    )

    tr = sub.add_parser(
        "triage",
        help="FROM -> TO: cases that break or get fixed, significant latency changes (exit 1 regression, 2 bad input)",
    )
    _common(tr)
    tr.add_argument("source", metavar="FROM", help="cell id or pins, e.g. tf=2.15.1 or tf=2.17.1,keras=3.8.0")
    tr.add_argument("target", metavar="TO", help="cell id or pins")
    tr.add_argument(
        "--env", action="append", default=[], metavar="CELL=PYTHON", help="a cell's interpreter (for latency)"
    )
    tr.add_argument("--threshold", type=float, default=0.10, help="smallest latency change that counts (default 0.10)")
    tr.add_argument("--rounds", type=int, default=6, help="paired timing rounds (default 6; at least 3)")
    tr.add_argument(
        "--case",
        action="append",
        metavar="GLOB",
        help="latency cases to time (default: *:predict_on_batch and the floor)",
    )
    tr.add_argument("--no-latency", action="store_true", help="compare outcomes only (no timing)")
    tr.add_argument(
        "--out", type=Path, help="markdown file (default: triage/FROM__TO.md; the paired values go beside it as .json)"
    )
    tr.add_argument("--invoked-by", default="", help="the command the user ran, shown in the output")

    cx = sub.add_parser("crossload", help="save in every cell of a cross-load scenario, load in every other one")
    _common(cx)
    cx.add_argument("--env", action="append", default=[], metavar="CELL=PYTHON", help="each cell's interpreter")
    cx.add_argument("--fresh", action="store_true", help="rerun even if current rows exist")
    cx.add_argument("--invoked-by", default="", help="the command the user ran, stored in rows")

    mg = sub.add_parser("merge", help="merge results folders (CI artifacts, other machines) into one")
    mg.add_argument("sources", nargs="+", type=Path, metavar="RESULTS", help="results folders to merge in")
    mg.add_argument("--into", type=Path, default=ROOT / "results", help="destination results folder")
    mg.add_argument("--scenarios", type=Path, default=ROOT / "scenarios", help="scenario folder (row order)")
    mg.add_argument("--newer-wins", action="store_true", help="on a conflict keep the later measurement")
    mg.add_argument("--scenario", action="append", metavar="ID", help="merge only rows of this scenario (repeatable)")

    cm = sub.add_parser("ci-matrix", help="CI job matrix from `nox -l --json -s matrix` (stdin or a file)")
    cm.add_argument("listing", nargs="?", type=Path, help="file with nox's JSON listing (default: stdin)")

    bi = sub.add_parser(
        "bisect", help="the first release along an axis at which a case's outcome (or a latency case's timing) changes"
    )
    _common(bi)
    bi.add_argument("case", metavar="CASE", help="scenario/case_id, e.g. masking-lstm/tensor-float64:.keras")
    bi.add_argument("--axis", required=True, choices=["keras", "tensorflow"], help="whose releases to walk")
    bi.add_argument("--base", help="cell id or pins that fix everything else (default: see README)")
    bi.add_argument("--from", dest="low", metavar="VERSION", help="oldest release to consider")
    bi.add_argument("--to", dest="high", metavar="VERSION", help="newest release to consider")
    bi.add_argument("--releases", help="comma-separated releases instead of asking the package index")
    bi.add_argument("--store", type=Path, default=ROOT / "bisect" / "results", help="where probe rows are kept")
    bi.add_argument("--out", type=Path, help="markdown file (default: bisect/<case>--<axis>.md)")
    bi.add_argument("--invoked-by", default="", help="the command the user ran, shown in the output")
    bi.add_argument(
        "--threshold", type=float, default=0.10, help="latency cases: smallest change that counts (default 0.10)"
    )
    bi.add_argument("--rounds", type=int, default=6, help="latency cases: paired rounds per probe (default 6)")
    bi.add_argument(
        "--env", action="append", default=[], metavar="CELL=PYTHON", help="latency cases: an installed cell's python"
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
    scens = [s for s in scens if s.runner == "worker"]  # latency: `harness bench`; cell pairs: `harness crossload`
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
    deadline: float | None = None,
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
        counts = bench.run(todo, scen, results, machine, invoked or "python -m harness bench", progress, deadline)
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
    if args.time_limit < 0:
        raise UserError(f"--time-limit must be seconds (0: none), got {args.time_limit}")
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
                deadline=start + args.time_limit if args.time_limit else None,
            )
    return 0


def cmd_spread(args: argparse.Namespace) -> int:
    """Print (and optionally write) the run-to-run movement of latency medians."""
    from harness import compare

    first = compare.medians(args.first, args.scenario, args.statistic)
    table = compare.spread(first, compare.medians(args.second, args.scenario, args.statistic))
    text = compare.render(table, compare.summary(table), args.statistic)
    print(text, end="")
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


def _check_threshold(threshold: float) -> None:
    """A latency threshold is a fraction (0.10 = 10%), as triage and bisect take it."""
    if not 0 < threshold < 10:
        raise UserError(f"--threshold must be a fraction such as 0.10, got {threshold}")


def cmd_triage(args: argparse.Namespace) -> int:
    """Compare two cells; exit 1 when a case breaks or a latency gets significantly slower."""
    from harness import bench, triage

    _check_threshold(args.threshold)
    if args.rounds < 3:
        raise UserError(f"--rounds must be at least 3 (a paired test needs them), got {args.rounds}")
    matrix = cells_mod.load(args.cells, check_rules=False)
    a, b = cells_mod.resolve(args.source, matrix), cells_mod.resolve(args.target, matrix)
    scens = scenarios.load_all(args.scenarios)
    machine = fingerprint.machine("cpu")
    diff = triage.outcome_diff(
        triage.current_rows(args.results, machine["id"], a, scens),
        triage.current_rows(args.results, machine["id"], b, scens),
    )
    latency = paired = None
    timed = [s for s in scens if s.timed]
    if not args.no_latency and timed:
        scen = timed[0]
        if args.case:
            scenarios.select([scen], args.case)  # an unknown pattern is an error before anything runs
        cases = triage.select_latency(scen, args.case)
        envs = dict(item.partition("=")[::2] for item in args.env)
        targets = []
        for cell in (a, b):
            python = envs.get(cell.id)
            if not python or not Path(python).exists():
                raise UserError(f"{cell.id}: no interpreter given (--env {cell.id}=PYTHON); `nox -s triage` finds it")
            problems = supervisor.install_problems(cell, python, [], cell.pins)
            if problems:
                raise UserError(f"{cell.id}: the environment at {python} lacks its pins: {problems[0]}")
            targets.append(bench.Target(cell, python, cases))
        progress = supervisor.Progress("[triage]", time.time())
        progress.line(f"latency: {len(cases)} cases, {args.rounds} rounds of {a.id} and {b.id}, paired")
        paired = triage.measure_pairs((targets[0], targets[1]), scen, args.rounds, progress)
        latency = triage.latency_table(paired, args.threshold)
    command = args.invoked_by or f"python -m harness triage {args.source} {args.target}"
    text = triage.render(a, b, diff, latency, paired, args.threshold, machine["id"], command)
    out = args.out or Path("triage") / f"{a.id}__{b.id}.md"
    data = {
        "from": a.id,
        "to": b.id,
        "threshold": args.threshold,
        "outcomes": diff.to_dict(orient="records"),
        "latency": latency.to_dict(orient="records") if latency is not None else None,
        "pairs": paired.values if paired else None,
        "python": list(paired.python) if paired else None,
    }
    triage.save(out, text, data)
    print(text)
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return triage.exit_code(diff, latency)


def cmd_crossload(args: argparse.Namespace) -> int:
    """Run every cross-load scenario whose rows are missing or stale."""
    from harness import crossrun

    matrix = cells_mod.load(args.cells, check_rules=False)
    scens = [s for s in scenarios.load_all(args.scenarios) if s.runner == "crossload"]
    if not scens:
        raise UserError(f"no cross-load scenario (builder 'crossload') in {args.scenarios}")
    envs = dict(item.partition("=")[::2] for item in args.env)
    machine = fingerprint.machine("cpu")
    progress = supervisor.Progress("[crossload]", time.time())
    for scen in scens:
        cells = {cid: matrix.get(cid) for cid in scen.cells}
        todo = list(cells) if args.fresh else crossrun.stale(scen, cells, args.results, machine["id"])
        if not todo:
            progress.line(f"{scen.id}: rows of {len(cells)} cells are up to date (--fresh reruns)")
            continue
        missing = [cid for cid in cells if not envs.get(cid) or not Path(envs[cid]).exists()]
        if missing:
            raise UserError(f"{scen.id}: no interpreter for {', '.join(missing)} (--env CELL=PYTHON)")
        for cid, cell in cells.items():
            problems = supervisor.install_problems(cell, envs[cid], [], cell.pins)
            if problems:
                raise UserError(f"{cid}: the environment at {envs[cid]} lacks its pins: {problems[0]}")
        progress.line(
            f"{scen.id}: {len(cells)} cells save, then each loads all {len(cells)} ({len(scen.cases())} cases)"
        )
        counts = crossrun.run(
            scen,
            [(cells[cid], envs[cid]) for cid in cells],
            args.results,
            machine,
            args.invoked_by or "python -m harness crossload",
            progress,
        )
        progress.line(f"{scen.id}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Merge results folders; conflicting rows stop the merge unless --newer-wins."""
    from harness import merge

    order = [(c.scenario, c.case_id) for s in scenarios.load_all(args.scenarios) for c in s.cases()]
    known = {s for s, _ in order}
    unknown = sorted(set(args.scenario or []) - known)
    if unknown:
        raise UserError(f"unknown scenario(s) {unknown}; known: {sorted(known)}")
    done = merge.merge(args.sources, args.into, order, newer_wins=args.newer_wins, only=args.scenario)
    print(
        f"merged into {args.into}: {done.added} rows added, {done.identical} identical, "
        f"{len(done.replaced)} replaced by later ones, {len(done.kept)} later ones kept; {done.files} files written"
    )
    for line in done.replaced + done.kept:
        print(f"  {line}")
    return 0


def cmd_ci_matrix(args: argparse.Namespace) -> int:
    """Print the job matrix as $GITHUB_OUTPUT lines."""
    from harness import ci

    try:
        text = args.listing.read_text(encoding="utf-8") if args.listing else sys.stdin.read()
        listing = json.loads(text)
    except OSError as exc:
        raise UserError(f"cannot read {args.listing}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"not JSON from `nox -l --json`: {exc.msg} at line {exc.lineno}") from None
    sys.stdout.write(ci.github_output(ci.job_matrix(listing)))
    return 0


def default_base(axis: str, matrix: cells_mod.Matrix) -> cells_mod.Cell:
    """Keras axis: the Keras 3 TensorFlow cell whose TensorFlow admits most Keras releases (the oldest);
    TensorFlow axis: the newest one. Both from the default `tf-default` cells."""
    from packaging.version import Version

    pool = [
        c
        for c in matrix.cells
        if c.default and "tf-default" in c.roles and c.flavor == "keras3" and c.backend == "tensorflow"
    ]
    if not pool:
        raise UserError("no default Keras 3 TensorFlow cell to bisect from; give --base")
    pool.sort(key=lambda c: Version(c.tensorflow or "0"))
    return pool[0] if axis == "keras" else pool[-1]


def cmd_bisect(args: argparse.Namespace) -> int:
    """Find the first release along the axis where the case's outcome changes."""
    from harness import bisection

    matrix = cells_mod.load(args.cells, check_rules=False)
    scens = scenarios.load_all(args.scenarios)
    found = [
        (s, c)
        for s in scens
        if s.runner in ("worker", "bench")
        for c in s.cases()
        if args.case in (c.case_id, f"{s.id}/{c.case_id}")
    ]
    if len(found) != 1:
        example = next((f"{s.id}/{c.case_id}" for s in scens for c in s.cases()), "masking-lstm/tensor-float64:.keras")
        what = "no case" if not found else f"{len(found)} cases"
        raise UserError(f"{what} named {args.case!r}; give scenario/case_id, e.g. {example}")
    scen, case = found[0]
    base = cells_mod.resolve(args.base, matrix) if args.base else default_base(args.axis, matrix)
    if not scen.applies_to(base.id, base.tags):
        raise UserError(f"scenario {scen.id} does not run on {base.id}; pick another --base")
    if args.axis == "tensorflow" and not base.tensorflow:
        raise UserError(f"{base.id} has no tensorflow pin to vary")
    package = bisection.AXES[args.axis]
    versions = [v.strip() for v in args.releases.split(",")] if args.releases else bisection.index_versions(package)
    releases, skipped = bisection.candidates(
        base, args.axis, versions, args.low, args.high, bisection.rules_of(args.cells), matrix
    )
    if len(releases) < 2:
        raise UserError(f"{len(releases)} {package} release(s) to bisect between {args.low} and {args.high}; need 2")
    if scen.timed:
        _check_threshold(args.threshold)
    if scen.timed and args.rounds < 6:
        raise UserError(
            f"--rounds must be at least 6 (the rank test cannot reach p < 0.05 with fewer), got {args.rounds}"
        )
    machine = fingerprint.machine("cpu")
    progress = supervisor.Progress("[bisect]", time.time())
    progress.line(
        f"{case.case_id}: {len(releases)} {package} releases on {base.id}, {releases[0][0]}..{releases[-1][0]}"
    )
    command = args.invoked_by or f"python -m harness bisect {args.case} --axis {args.axis}"
    slug = f"{scen.id}-{case.case_id}".replace(":", "-").replace("/", "-")
    out = args.out or ROOT / "bisect" / f"{slug}--{args.axis}.md"
    if scen.timed:
        pythons = dict(item.partition("=")[::2] for item in args.env)
        timer = bisection.LatencyProber(scen, case, args.rounds, args.threshold, pythons, progress)
        result = bisection.search_latency(releases, timer)
        text = bisection.render_latency(case, args.axis, base, releases, skipped, result, timer, machine["id"], command)
        store.write_text(out.with_suffix(".json"), json.dumps(bisection.latency_data(result, args.threshold), indent=1))
    else:
        prober = bisection.Prober(scen, case, args.results, args.store, machine, progress)
        probes, boundary = bisection.search(releases, prober)
        text = bisection.render(
            case, args.axis, base, releases, skipped, probes, boundary, prober.installs, machine["id"], command
        )
    store.write_text(out, text)
    print(text)
    print(f"wrote {out}")
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
            "triage": cmd_triage,
            "bisect": cmd_bisect,
            "crossload": cmd_crossload,
            "merge": cmd_merge,
            "ci-matrix": cmd_ci_matrix,
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
