"""Nox sessions: `matrix`, bench, crossload, triage, bisect, report, spread, repair, cells, tests, lint."""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from harness import __version__, fingerprint, scenarios, store  # noqa: E402
from harness import cells as cells_mod  # noqa: E402
from harness import envs as envs_mod  # noqa: E402
from harness.errors import UserError  # noqa: E402

PY = "3.11"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests", "lint"]
nox.options.error_on_missing_interpreters = True  # a cell whose Python is missing fails loudly, never skips


def _interpreter(version: str) -> str:
    """The Python a cell asks for: a pyenv-installed `X.Y` by path when pyenv has one, else the version itself.

    pyenv's shims answer only for active versions, so nox and uv would not find the others by name.
    """
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(
        Path(root).glob(f"versions/{version}.*/bin/python{version}"),
        key=lambda p: [int(x) for x in p.parts[-3].split(".") if x.isdigit()],
    )
    return str(found[-1]) if found and version != PY else version


# Another cells file or results folder (tests, CI shards): MASKCOMPAT_CELLS, MASKCOMPAT_RESULTS.
CELLS = Path(os.environ.get("MASKCOMPAT_CELLS", ROOT / "cells" / "cells.toml")).resolve()
RESULTS = Path(os.environ.get("MASKCOMPAT_RESULTS", ROOT / "results")).resolve()
WHERE = ["--cells", str(CELLS), "--results", str(RESULTS)]
MATRIX = cells_mod.load(CELLS)
SCENARIOS = scenarios.load_all(ROOT / "scenarios")
# Each matrix session notes here where its cell's environment is, for `bench` (which times many cells).
ENVS = ROOT / ".nox" / "maskcompat-envs.json"
_RUN: dict[str, list[float]] = {"cell_s": []}
_START = time.time()
PRIOR_CELL_S = 40.0
WORKFLOWS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.yml"))


def _matrix_args(posargs: list[str]) -> argparse.Namespace:
    """The arguments after `--` that the noxfile itself needs (the rest go to `harness run`)."""
    ap = argparse.ArgumentParser(prog="nox -s matrix --", add_help=False)
    ap.add_argument("--case", action="append")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--device", default="cpu")
    known, _ = ap.parse_known_args(posargs)
    known.device = fingerprint.resolve_device(known.device)  # ValueError names the bad value
    return known


def _bench_args(args: argparse.Namespace) -> list[str]:
    """Arguments for `harness bench` that follow from the matrix session's own (`--case`, `--fresh`, `--device`)."""
    out = ["--device", args.device]
    for pattern in args.case or []:
        out += ["--case", pattern]
    return out + (["--fresh"] if args.fresh else [])


def _stale(cell: cells_mod.Cell, args: argparse.Namespace) -> bool:
    """Whether the cell has cases without an up-to-date row on this machine."""
    if args.fresh:
        return True
    checked = {s.id for s in SCENARIOS if s.runner == "worker"}  # timed and cross-cell rows have their own sessions
    selected = scenarios.select(SCENARIOS, args.case, (cell.id, cell.tags))
    cases = [(c.scenario, c.case_id) for c in selected if c.scenario in checked]
    path = store.cell_path(RESULTS, _machine_id(args.device), cell.id)
    return bool(store.stale_cases(path, cases, {s.id: s.hash for s in SCENARIOS}, cell.hash, __version__))


def _known_envs() -> dict[str, str]:
    """Cell id -> interpreter of its installed environment, as the matrix sessions noted them."""
    try:
        data = json.loads(ENVS.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str) and Path(v).exists()}


def _remember_env(cell: str, python: str) -> None:
    """Note the cell's interpreter (atomic rewrite of the small JSON map)."""
    envs = _known_envs()
    envs[cell] = python
    ENVS.parent.mkdir(parents=True, exist_ok=True)
    tmp = ENVS.with_suffix(".tmp")
    tmp.write_text(json.dumps(envs, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, ENVS)


def _latency_stale(cell: cells_mod.Cell, args: argparse.Namespace) -> bool:
    """Whether the cell has latency cases (selected by --case) without a complete, current row."""
    if args.fresh:
        return True
    timed = [s for s in SCENARIOS if s.timed and s.applies_to(cell.id, cell.tags)]
    cases = [(s.id, c.case_id) for s in timed for c in s.cases() if not args.case or scenarios.matches(c, args.case)]
    path = store.cell_path(RESULTS, _machine_id(args.device), cell.id)
    return bool(store.stale_cases(path, cases, {s.id: s.hash for s in timed}, cell.hash, __version__))


@functools.lru_cache
def _machine_id(device: str) -> str:
    """This machine's results folder name for the device (the GPU query runs once)."""
    return str(fingerprint.machine(device)["id"])


def _selected(session: nox.Session) -> list[cells_mod.Cell]:
    """The cells this nox invocation runs, in order, for the `[i/n]` label and the estimate."""
    config = session._runner.global_config
    names, tags = getattr(config, "sessions", None), getattr(config, "tags", None)
    if names and "matrix" not in names:
        chosen = {n[len("matrix(") : -1] for n in names if n.startswith("matrix(")}
        if not chosen and not tags:
            return [c for c in MATRIX.cells if c.default]  # e.g. `nox -s bench` alone: every default cell
        return [c for c in MATRIX.cells if c.id in chosen]
    if tags and not names:
        return [c for c in MATRIX.cells if set(tags) & set(c.tags)]
    return [c for c in MATRIX.cells if c.default]


@nox.session(python=False)
def cells(session: nox.Session) -> None:
    """List the cells of the matrix with their pins, and the excluded pairs with reasons."""
    argv = [sys.executable, "-m", "harness", "cells", "--cells", str(CELLS), *session.posargs]
    session.run(*argv, env={"PYTHONPATH": str(ROOT)})


@nox.session
@nox.parametrize(
    "python,cell",
    [nox.param(_interpreter(c.python), c.id, id=c.id, tags=c.tags) for c in MATRIX.cells],
)
def matrix(session: nox.Session, cell: str) -> None:
    """Run one pinned cell (pins: `nox -s cells`; after --: --case GLOB --fresh --jobs N --device cpu|gpu|auto)."""
    try:
        args = _matrix_args(session.posargs)
    except ValueError as exc:
        session.error(str(exc))
    # The bench session (latency, all selected cells interleaved) gets the same selection and freshness.
    session.notify("bench", posargs=_bench_args(args))
    session.notify("crossload", posargs=["--fresh"] if args.fresh else [])
    session.notify("report", posargs=[])
    the_cell = MATRIX.get(cell)
    selected = _selected(session)
    if not the_cell.default and the_cell not in selected:
        session.skip(f"{cell} is not a default cell; run it by name or tag (e.g. `nox -t gpu`)")
    ids = [c.id for c in selected]
    pos = ids.index(cell) + 1 if cell in ids else 1
    label = f"[{pos:>2}/{len(ids)} {cell}]"
    if not _stale(the_cell, args):
        print(f"{label} up to date: rows reused (pass `-- --fresh` to rerun)", flush=True)
        return
    later = [c for c in selected[pos:] if _stale(c, args)]
    measured = _RUN["cell_s"]
    per_cell = sorted(measured)[len(measured) // 2] if measured else PRIOR_CELL_S
    log = Path(session.create_tmp()) / "install.log"
    t0 = time.time()
    env = {}
    if os.environ.get("PIP_FIND_LINKS") and not os.environ.get("UV_FIND_LINKS"):
        env["UV_FIND_LINKS"] = os.environ["PIP_FIND_LINKS"]  # local wheel folders, e.g. the torch CPU build
    with log.open("w") as fh:
        pins = the_cell.gpu_pins if args.device == "gpu" else the_cell.pins
        session.install(*pins, env=env, stdout=fh, stderr=subprocess.STDOUT, silent=False, success_codes=range(256))
    _remember_env(cell, str(Path(session.bin) / "python"))
    # The supervisor runs on Nox's own Python (the harness needs 3.11+); workers run on the cell's.
    session.run(
        sys.executable,
        "-m",
        "harness",
        "run",
        *WHERE,
        "--cell",
        cell,
        "--python",
        str(Path(session.bin) / "python"),
        "--install-log",
        str(log),
        "--label",
        label,
        "--matrix-start",
        str(_START),
        "--after-s",
        str(per_cell * len(later)),
        "--invoked-by",
        "nox " + " ".join(sys.argv[1:]),
        *session.posargs,
        env={"PYTHONPATH": str(ROOT)},
        external=True,
    )
    _RUN["cell_s"].append(time.time() - t0)


@nox.session(python=PY)
def bench(session: nox.Session) -> None:
    """Time masked-RNN inference in the selected cells' environments, rounds interleaved (-- --cell ID --fresh)."""
    ap = argparse.ArgumentParser(prog="nox -s bench --", add_help=False)
    ap.add_argument("--cell", action="append", default=[])
    only, rest = ap.parse_known_args(session.posargs)
    try:
        chosen = [MATRIX.get(c) for c in only.cell] if only.cell else _selected(session)
    except UserError as exc:
        session.error(str(exc))
    try:
        args = _matrix_args(rest)
    except ValueError as exc:
        session.error(str(exc))
    todo = [c for c in chosen if _latency_stale(c, args)]
    if not todo:
        print(f"latency rows of {len(chosen)} cell(s) are up to date (pass `-- --fresh` to retime)", flush=True)
        return
    envs = _known_envs()
    missing = [c.id for c in todo if c.id not in envs]
    if missing:
        session.warn(
            f"{len(missing)} cell(s) have no installed environment and are not timed: {', '.join(missing)}; "
            'run `nox -s "matrix(<id>)"` for them first'
        )
    pairs = [f"--env={c.id}={envs[c.id]}" for c in todo if c.id in envs]
    if not pairs:
        session.error("no cell has an installed environment yet: run `nox -s matrix` first")
    session.install("-r", "requirements/bench.txt")
    invoked = "nox " + " ".join(sys.argv[1:])
    argv = ["python", "-m", "harness", "bench", *WHERE, *pairs, "--invoked-by", invoked, *rest]
    session.run(*argv, env={"PYTHONPATH": str(ROOT)})


def _cell_env(cell: cells_mod.Cell) -> str | None:
    """The interpreter of the cell's installed environment, if the matrix session made one."""
    return _known_envs().get(cell.id)


def _bad_input(message: str) -> NoReturn:
    """One line and exit code 2, as `python -m harness` gives for bad input (nox itself would exit 1)."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


@nox.session(python=PY)
def triage(session: nox.Session) -> None:
    """Upgrade FROM -> TO: breaks, fixes, significant latency changes (-- FROM TO [--threshold 0.1] [--no-latency])."""
    usage = "usage: nox -s triage -- FROM TO [--threshold 0.10] [--rounds 6] [--no-latency] [--out FILE]"
    if len(session.posargs) < 2 or session.posargs[0].startswith("-") or session.posargs[1].startswith("-"):
        _bad_input(usage)
    source, target, *rest = session.posargs
    try:
        pair = [cells_mod.resolve(source, MATRIX), cells_mod.resolve(target, MATRIX)]
    except UserError as exc:
        _bad_input(str(exc))
    latency = "--no-latency" not in rest
    args = argparse.Namespace(case=None, fresh=False, device="cpu")
    pythons: dict[str, str] = {}
    for cell in dict.fromkeys(pair):
        if _stale(cell, args):
            print(f"[triage] {cell.id}: no current rows here; running the cell first", flush=True)
            session.run("nox", "-s", f"matrix({cell.id})", external=True)
        found = _cell_env(cell)
        if latency and found is None:
            print(f"[triage] {cell.id}: installing its pins for the timing (.cache/envs)", flush=True)
            found = str(envs_mod.install(cell))
        if found:
            pythons[cell.id] = found
    session.install("-r", "requirements/report.txt", "-r", "requirements/bench.txt")
    envs = [f"--env={cid}={python}" for cid, python in pythons.items()]
    invoked = "nox " + " ".join(sys.argv[1:])
    argv = [str(Path(session.bin) / "python"), "-m", "harness", "triage", *WHERE, source, target, *envs]
    code = subprocess.call([*argv, "--invoked-by", invoked, *rest], env={**os.environ, "PYTHONPATH": str(ROOT)})
    if code:
        # 1: a regression, 2: bad input; passed on as the exit code of nox itself for CI gates.
        raise SystemExit(code)


def _crossload_current() -> bool:
    """Whether every cross-load row is current (the set's cells, the scenario and both cells of each pair)."""
    from harness import crossrun

    mid = _machine_id("cpu")
    for scen in (s for s in SCENARIOS if s.runner == "crossload"):
        cells = {cid: MATRIX.get(cid) for cid in scen.cells}
        if crossrun.stale(scen, cells, RESULTS, mid):
            return False
    return True


@nox.session(python=PY)
def crossload(session: nox.Session) -> None:
    """Save the seed model in each cell of the cross-load set and load it in each (-- --fresh)."""
    envs = _known_envs()
    wanted = {c for s in SCENARIOS if s.runner == "crossload" for c in s.cells}
    unknown = sorted(wanted - {c.id for c in MATRIX.cells})
    if unknown:
        session.skip(f"the cross-load set names cells that {CELLS.name} does not have: {', '.join(unknown)}")
    pairs = [f"--env={c}={envs[c]}" for c in sorted(wanted) if c in envs]
    if len(pairs) < len(wanted) and not session.posargs and _crossload_current():
        print(f"cross-load rows are up to date ({len(wanted)} cells)", flush=True)
        return
    if len(pairs) < len(wanted):
        # e.g. a CI job that installed one cell: the cross-load set runs where all its cells are installed.
        lacking = sorted(wanted - {p.split("=")[1] for p in pairs})
        session.skip(f"cross-load needs every cell of its set installed here; missing: {', '.join(lacking)}")
    session.install("-r", "requirements/report.txt")
    invoked = "nox " + " ".join(sys.argv[1:])
    argv = ["python", "-m", "harness", "crossload", *WHERE, *pairs, "--invoked-by", invoked, *session.posargs]
    session.run(*argv, env={"PYTHONPATH": str(ROOT)})


@nox.session(python=PY)
def bisect(session: nox.Session) -> None:
    """First release at which a case's outcome (a latency case: its timing) changes (-- CASE --axis AXIS)."""
    usage = "usage: nox -s bisect -- SCENARIO/CASE --axis keras|tensorflow [--base CELL] [--from V] [--to V]"
    if not session.posargs or session.posargs[0].startswith("-"):
        _bad_input(usage)
    # pip lists a package's releases (`pip index versions`); uv installs the probes; scipy judges timings.
    session.install("-r", "requirements/report.txt", "-r", "requirements/bench.txt", "pip")
    invoked = "nox " + " ".join(sys.argv[1:])
    envs = [f"--env={cid}={python}" for cid, python in _known_envs().items()]  # latency probes reuse them
    argv = [str(Path(session.bin) / "python"), "-m", "harness", "bisect", *WHERE, *session.posargs, *envs]
    code = subprocess.call([*argv, "--invoked-by", invoked], env={**os.environ, "PYTHONPATH": str(ROOT)})
    if code:
        raise SystemExit(code)


@nox.session(python=PY)
def report(session: nox.Session) -> None:
    """Render report.md and results/plots from results/ only (no TensorFlow involved)."""
    session.install("-r", "requirements/report.txt")
    session.run("python", "-m", "harness", "report", *WHERE, *session.posargs, env={"PYTHONPATH": str(ROOT)})


@nox.session(python=PY)
def spread(session: nox.Session) -> None:
    """How far latency medians moved between two results folders: -- RESULTS_A RESULTS_B."""
    if len(session.posargs) < 2:
        session.error("usage: nox -s spread -- RESULTS_A RESULTS_B [--out FILE]")
    session.install("-r", "requirements/report.txt")
    session.run("python", "-m", "harness", "spread", *session.posargs, env={"PYTHONPATH": str(ROOT)})


@nox.session(python=PY)
def repair(session: nox.Session) -> None:
    """Rewrite a .keras file's tagged tensor values into plain ones and prove it: -- IN.keras OUT.keras."""
    if len(session.posargs) < 2:
        session.error("usage: nox -s repair -- IN.keras OUT.keras [--no-check]")
    newest = MATRIX.get("tf2.21.0-keras3.15.1")
    session.install(*newest.pins)
    env = {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **newest.env}
    session.run("python", "-m", "harness", "repair", *session.posargs, env=env)


@nox.session(python=PY)
def tests(session: nox.Session) -> None:
    """Unit tests, plus integration tests that install and run real pinned cells (slow ones need uv)."""
    session.install("-r", "requirements/tests.txt")
    session.run("pytest", *(session.posargs or ["-q", "tests"]), env={"PYTHONPATH": str(ROOT)})


@nox.session(python=PY)
def lint(session: nox.Session) -> None:
    """ruff (style, imports) and mypy (types) over the harness, tests and this file; the CI workflow's lint."""
    session.install("-r", "requirements/lint.txt")
    session.run("ruff", "check", "harness", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "harness", "tests", "noxfile.py")
    session.run("mypy", "harness", "noxfile.py")
    # The CI workflow: GitHub's schema, then zizmor's audits (actionlint's PyPI build downloads from GitHub).
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    session.run("zizmor", "--offline", "--config", ".github/zizmor.yml", *WORKFLOWS)
