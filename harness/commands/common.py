"""Arguments several commands share, and the cell run that `matrix`, `run`, `bench` and `crossload` drive."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from harness.decl import cells as cells_mod
from harness.decl import scenarios
from harness.errors import UserError
from harness.runner import fingerprint
from harness.runner.matrix import execute as run_matrix
from harness.runner.matrix import select_cells
from harness.runner.parts import names as part_names
from harness.runner.progress import mmss
from harness.runner.run import Options

ROOT = Path(__file__).resolve().parents[2]


def need(command: str, *modules: str) -> None:
    """Stop with one line when a package the command needs is missing here (`nox -s <command>` installs them)."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(
            f"`{command}` needs {', '.join(missing)}, not installed in {sys.executable}: run `nox -s {command}`, "
            "or `pip install -r requirements/report.txt -r requirements/bench.txt`"
        )


def where(p: argparse.ArgumentParser) -> None:
    """--cells, --scenarios, --results (MASKCOMPAT_CELLS / MASKCOMPAT_RESULTS set the defaults)."""
    cells = Path(os.environ.get("MASKCOMPAT_CELLS", ROOT / "cells" / "cells.toml"))
    results = Path(os.environ.get("MASKCOMPAT_RESULTS", ROOT / "results"))
    p.add_argument("--cells", type=Path, default=cells, help=f"cells file (default {cells})")
    p.add_argument("--scenarios", type=Path, default=ROOT / "scenarios", help="scenario folder")
    p.add_argument("--results", type=Path, default=results, help=f"results folder (default {results})")


def device(p: argparse.ArgumentParser, default: str = "cpu") -> None:
    """--device, the same in every command that runs cells."""
    p.add_argument(
        "--device",
        default=default,
        help=f"cpu (CPU builds), gpu (CUDA builds; rows under the GPU's machine id) or auto (default {default})",
    )


def resolve_device(value: str) -> str:
    """`cpu` or `gpu` (auto: gpu where nvidia-smi names one); a bad value is a UserError."""
    try:
        return fingerprint.resolve_device(value)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def invoked(p: argparse.ArgumentParser) -> None:
    """--invoked-by: the command the user ran, stored in rows and shown in write-ups."""
    p.add_argument("--invoked-by", default="", help="the command the user ran, stored in rows")


def command_line() -> str:
    """This process's own command line, for rows when no --invoked-by was given."""
    return "python -m harness " + " ".join(sys.argv[1:])


def selection(p: argparse.ArgumentParser) -> None:
    """--cell, --tag, --case."""
    p.add_argument(
        "--cell", action="append", metavar="ID", help="run this cell (repeatable; default: every default cell)"
    )
    p.add_argument("--tag", action="append", help="run the cells with this tag: role, flavor or backend (repeatable)")
    p.add_argument("--case", action="append", metavar="GLOB", help="only cases whose id matches (repeatable)")


def run_options(p: argparse.ArgumentParser) -> None:
    """--fresh, --jobs and --python."""
    p.add_argument("--fresh", action="store_true", help="measure again even where current rows exist")
    p.add_argument("--jobs", type=int, default=2, help="cells measured side by side (default 2)")
    p.add_argument(
        "--python",
        help="run every selected cell in this interpreter, as it is (default: the cell's own uv environment, "
        "installed on first use in .cache/envs/)",
    )


def execute(args: argparse.Namespace, parts: tuple[str, ...], *, report: bool) -> int:
    """Plan and run the selected cells' parts, print what was done, render the report (`report`)."""
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    name = getattr(args, "command", "matrix")
    need(name, "packaging", *(("numpy", "scipy") if "latency" in parts else ()))  # the latency part's statistics
    if report:
        need(name, "pandas", "matplotlib", "tabulate")
    time_limit = float(getattr(args, "time_limit", 0) or 0)
    if time_limit < 0:
        raise UserError(f"--time-limit must be seconds (0: none), got {time_limit}")
    python = getattr(args, "python", None)
    if python and not (Path(python).exists() or shutil.which(python)):
        raise UserError(f"interpreter {python} does not exist")
    wheels = getattr(args, "wheels", None)
    if wheels is not None and not wheels.is_dir():
        raise UserError(f"wheel folder {wheels} does not exist (one sub-folder keras-<version> per Keras release)")
    matrix = cells_mod.load(args.cells)
    scens = scenarios.load_all(args.scenarios)
    scenarios.select(scens, args.case)  # an unknown pattern is an error before anything runs
    chosen = select_cells(matrix.cells, getattr(args, "cell", None), getattr(args, "tag", None))
    dev = resolve_device(args.device)
    machine = fingerprint.machine(dev)
    opts = Options(
        patterns=args.case,
        fresh=args.fresh,
        jobs=args.jobs,
        device=dev,
        python=python,
        wheels=wheels,
        time_limit=time_limit,
        invoked=args.invoked_by or command_line(),
        parts=parts,
        plan_only=bool(getattr(args, "plan", False)),
    )
    all_cells = {c.id: c for c in matrix.cells}
    t0 = time.time()

    def render() -> str:
        from harness.readers.publish import render

        command = getattr(args, "invoked_by", None) or "python -m harness matrix"
        return render(matrix, scens, args.results, bisect_dir=ROOT / "experiments" / "bisect", command=command)

    summary = run_matrix(chosen, all_cells, scens, args.results, machine, opts, render if report and not opts.plan_only
                         else None)  # fmt: skip
    if opts.plan_only:
        return 0
    again = "nox -s matrix -- --fresh" if set(parts) == set(part_names()) else "--fresh"
    print(
        f"{summary.line() or 'nothing selected'}. Took {mmss(time.time() - t0)}; "
        f"to measure everything afresh: `{again}`.",
        flush=True,
    )
    for note in summary.notes:
        print(f"note: {note}", flush=True)
    return 0
