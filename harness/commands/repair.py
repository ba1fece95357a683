"""`repair IN OUT`: rewrite a .keras file's tagged tensor values into plain ones, then prove it in a cell; `--for
SPEC`: the shim route, a copy rewritten for one release and proved there against the saving release."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.commands import common
from harness.decl import cells as cells_mod
from harness.decl.cells import Cell
from harness.errors import UserError
from harness.rewrite import repair_file
from harness.runner import envs
from harness.runner.child import Launch, Session

HELP = (
    "rewrite tagged tensor/array values in a .keras file (or, with --for, the shim for one release), then prove "
    "it loads and predicts as the original"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The files, and where the proof runs."""
    p.add_argument("src", type=Path, metavar="IN.keras", help="the file that fails to load")
    p.add_argument("dst", type=Path, metavar="OUT.keras", help="where to write the repaired file")
    p.add_argument(
        "--for", dest="target", metavar="SPEC",
        help="rewrite for this release (a cell id, or pins like keras=3.8.0): untag tagged values and drop the "
        "arguments its layers refuse where they hold their default (causes/shim.toml), in a sandboxed child of "
        "that release, then prove it against the saving release's outputs; arguments it cannot drop are named and "
        "nothing is written",
    )  # fmt: skip
    p.add_argument("--no-check", action="store_true", help="only rewrite; do not load and compare")
    p.add_argument(
        "--cell", help="prove it in this cell's environment (default: this interpreter if it has keras, else the "
        "newest Keras 3 TensorFlow cell)"
    )  # fmt: skip
    p.add_argument("--cells", type=Path, default=common.ROOT / "cells" / "cells.toml", help="cells file")
    common.device(p)


def newest(matrix: cells_mod.Matrix) -> Cell:
    """The newest default Keras 3 cell on TensorFlow, by Keras then TensorFlow release."""
    from packaging.version import Version

    pool = [c for c in matrix.cells if c.default and c.flavor == "keras3" and c.backend == "tensorflow"]
    if not pool:
        raise UserError("no default Keras 3 TensorFlow cell to prove the repair in; give --cell")
    return max(pool, key=lambda c: (Version(c.keras or "0"), Version(c.tensorflow or "0")))


class Unproven(Exception):
    """The repaired file was written but does not load or predict as the original where it was proved."""


def prove(src: Path, dst: Path, cell: Cell | None, device: str) -> str:
    """Run the `prove` handler on the two files in the cell's environment (None: this interpreter); raises
    Unproven where the repaired file does not prove out."""
    tmp = Path(tempfile.mkdtemp(prefix="maskcompat-repair-"))
    try:
        if cell is None:
            interp = envs.this_interpreter()
            env = envs.own_env(interp, tmp)
        else:
            interp = envs.install(cell, device, check=True)
            env = envs.child_env(cell, interp, tmp)
        session = Session(Launch(interp.python, "prove", env, tmp, "prove"))
        request = {"original": str(src.resolve()), "repaired": str(dst.resolve()), "rtol": 1e-5, "atol": 1e-6}
        reply = session.ask(request, 600)
        session.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    where = f"in {cell.id}" if cell else "in this interpreter"
    if reply.answer is None or reply.answer.get("outcome") != "ok":
        got = reply.answer or reply.lost or {}
        raise Unproven(f"{got.get('failed_stage') or 'proof'} {where}: {got.get('error_type')}: "
                       f"{' '.join(str(got.get('error_message')).split())[:500]}")  # fmt: skip
    return f"{where}: {reply.answer['proof']}"


def main(args: argparse.Namespace) -> int:
    """Rewrite, report the changes, and (unless --no-check) prove the result predicts as the original."""
    if not args.src.exists():
        raise UserError(f"{args.src}: no such file")
    if args.src.resolve() == args.dst.resolve():
        raise UserError("repair writes a new file: OUT must differ from IN")
    if args.target:
        if args.no_check:
            raise UserError("--for rewrites in the release it names and proves it there: leave out --no-check")
        return for_release(args)
    t0 = time.time()
    changes = repair_file(args.src, args.dst)
    if not changes:
        print(f"{args.src}: nothing tagged to repair; copied to {args.dst}")
    for change in changes:
        print(f"repaired {change}")
    if args.no_check:
        return 0
    if args.cell:
        cell: Cell | None = cells_mod.resolve(args.cell, cells_mod.load(args.cells))
    elif importlib.util.find_spec("keras") is not None or importlib.util.find_spec("tensorflow") is not None:
        cell = None
    else:
        cell = newest(cells_mod.load(args.cells))
    try:
        how = prove(args.src, args.dst, cell, common.resolve_device(args.device))
    except Unproven as exc:  # the new file is not left behind as if it were good
        args.dst.unlink(missing_ok=True)
        print(f"{args.dst}: removed, the repaired file did not prove out: {exc}")
        return 1
    print(f"proved {args.dst} {how} ({time.time() - t0:.0f}s)")
    return 0


def for_release(args: argparse.Namespace) -> int:
    """The shim route: rewrite the file for one release in a sandboxed child of it, and keep the copy only where it
    loads there and predicts as the saving release does (exit 0); else write nothing and say why (exit 1)."""
    from harness.decl import advisories
    from harness.tools import check
    from harness.tools.inspect import inspect

    t0 = time.time()
    matrix = cells_mod.load(args.cells)
    insp = inspect(args.src)
    if insp.kind not in ("keras", "h5"):
        raise UserError(f"{args.src}: the shim rewrites .keras and .h5 model files; this is a {insp.kind}")
    cell = cells_mod.resolve(args.target, matrix)
    targets = [check.Target(cell, f"--for {args.target}", routes=("shim",))]
    saver = check.saving_cell(insp, matrix)
    if saver is not None and saver.id != cell.id:
        targets.append(check.Target(saver, f"the saving release (Keras {insp.keras_version})", reference_only=True))
    print(f"{args.src}: rewriting for {cell.id}" + (f", proved against {saver.id}" if saver else ""), flush=True)
    options = check.Options(device=common.resolve_device(args.device))
    results, reference = check.check(insp, targets, options, advisories.load())
    result = results[0]
    tried: dict[str, Any] = next(iter(result.answer.get("tries", [])), {})
    for change in tried.get("shim_changes") or []:
        print(f"  {change}")
    if result.refused and not result.answer:
        print(f"{args.dst}: not written; {cell.id} would act on what the file holds: "
              + "; ".join(r.text(cell) for r in result.refused))  # fmt: skip
        return 1
    if tried.get("outcome") != "ok" or result.shim_file is None:
        why = " ".join(str(tried.get("error_message") or result.error_message or "the shim did not run").split())
        print(f"{args.dst}: not written; {why}")
        return 1
    if result.outcome not in ("ok", "runs"):
        print(f"{args.dst}: not written; the rewritten file loads in {cell.id} but its outputs differ from "
              f"{reference} by up to {result.max_abs_diff:.3g}")  # fmt: skip
        return 1
    name, content = result.shim_file
    if Path(name).suffix != args.dst.suffix:
        print(f"  note: the file is {'HDF5' if name.endswith('.h5') else 'a .keras zip'}; {cell.id} reads it by "
              f"its suffix, so name it *{Path(name).suffix}")  # fmt: skip
    args.dst.parent.mkdir(parents=True, exist_ok=True)
    args.dst.write_bytes(content)
    args.dst.chmod(args.src.stat().st_mode & 0o7777)  # the new file keeps the input's permissions
    how = (f"predicts as {reference} (max |diff| = {result.max_abs_diff:.3g})" if result.outcome == "ok"
           else f"loads and runs; not compared: the reference is {reference}")  # fmt: skip
    print(f"wrote {args.dst}: loads in {cell.id} and {how} ({time.time() - t0:.0f}s)")
    return 0
