"""Environments the harness installs itself (bisect probes, triage of a cell nox has not installed here, tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from harness.cells import Cell
from harness.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def uv_binary() -> str:
    """The uv binary: on PATH, or the one the `uv` package ships (pip install uv)."""
    found = shutil.which("uv")
    if found:
        return found
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise UserError("installing a cell needs uv: `pip install uv`") from None
    return str(find_uv_bin())


def install(cell: Cell, root: Path = ROOT / ".cache" / "envs", *, check: bool = False) -> Path:
    """A uv environment with the cell's pins in `root/<id>` (a repeat install is instant); its python.

    A failed install leaves `install.log` there; the run then records `install` rows, as for a matrix cell
    (with `check`, it raises instead, naming the installer's last line).
    """
    uv = uv_binary()
    venv = root / cell.id
    python = venv / "bin" / "python"
    env = dict(os.environ)
    if "PIP_FIND_LINKS" in env and "UV_FIND_LINKS" not in env:
        env["UV_FIND_LINKS"] = env["PIP_FIND_LINKS"]  # local wheel folders, e.g. the torch CPU build
    if not python.exists():
        subprocess.run([uv, "venv", "-q", "-p", cell.python, str(venv)], check=True, env=env)
    proc = subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), *cell.pins], capture_output=True, text=True, env=env
    )
    log = venv / "install.log"
    if proc.returncode != 0:
        log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
        if check:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1].strip()
            raise UserError(f"{cell.id}: installing {' '.join(cell.pins)} failed: {last}")
    else:
        log.unlink(missing_ok=True)
    return python
