"""`repair IN OUT`: rewrite a .keras file's tagged tensor values into plain ones, then prove it in a cell."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import tempfile
import time
from pathlib import Path

from harness.commands import common
from harness.decl import cells as cells_mod
from harness.decl.cells import Cell
from harness.errors import UserError
from harness.rewrite import repair_file
from harness.runner import envs
from harness.runner.child import Launch, Session

HELP = "rewrite tagged tensor/array values in a .keras file, then prove it loads and predicts as the original"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The files, and where the proof runs."""
    p.add_argument("src", type=Path, metavar="IN.keras", help="the file that fails to load")
    p.add_argument("dst", type=Path, metavar="OUT.keras", help="where to write the repaired file")
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
