"""Where a cell's interpreter is: the one owner of that question for every command.

A cell runs in one of three kinds of interpreter:
- a uv environment the harness installs in `.cache/envs/<cell id>` (`.cache/envs/gpu/<cell id>` for the CUDA
  builds; `MASKCOMPAT_ENVS` moves the folder), made on first use and checked against the pins every time;
- an interpreter the user names (`--python`), used as it is;
- this interpreter with the cell's Keras unpacked from wheel folders (`--wheels`: a GPU machine without network).
Whichever it is, `problems` says which pins it lacks, and a cell that lacks them records `install` rows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.decl.cells import Cell
from harness.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
# Variables a child inherits from the parent; everything else it gets is set explicitly.
PASSED_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "LD_LIBRARY_PATH",
    # GPU runs: several jax children share one card; compiled programs are reused across timing processes
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "JAX_COMPILATION_CACHE_DIR",
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
    "NVIDIA_TF32_OVERRIDE",  # 0: cuBLAS/cuDNN keep float32 (TF32 is on by default in cuDNN on Ampere and later)
    "MASKCOMPAT_KINDS",  # kinds added from outside the package (`harness.decl.kinds`): the child registers them too
)


@dataclass(frozen=True)
class Interpreter:
    """A cell's interpreter: the executable, extra import paths, the pins it must have, and where it came from."""

    python: str
    pythonpath: tuple[str, ...]
    pins: tuple[str, ...]
    how: str
    install_log: Path | None = None


def envs_root() -> Path:
    """Where the harness keeps the environments it installs."""
    return Path(os.environ.get("MASKCOMPAT_ENVS", ROOT / ".cache" / "envs"))


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


def base_python(version: str) -> str:
    """The interpreter uv should base an environment on: a pyenv-installed `X.Y` by path, else the version.

    pyenv's shims answer only for active versions, so uv would not find the others by name (and would
    download a CPython of its own).
    """
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(
        Path(root).glob(f"versions/{version}.*/bin/python{version}"),
        key=lambda p: [int(x) for x in p.parts[-3].split(".") if x.isdigit()],
    )
    return str(found[-1]) if found else version


def _uv_env() -> dict[str, str]:
    env = dict(os.environ)
    if env.get("PIP_FIND_LINKS") and not env.get("UV_FIND_LINKS"):
        env["UV_FIND_LINKS"] = env["PIP_FIND_LINKS"]  # local wheel folders, e.g. the torch CPU build
    return env


def env_dir(cell: Cell, device: str, root: Path | None = None) -> Path:
    """The folder of the environment the harness installs for the cell and device."""
    base = root or envs_root()
    return base / "gpu" / cell.id if device == "gpu" else base / cell.id


def installed(cell: Cell, device: str = "cpu", root: Path | None = None) -> bool:
    """Whether the harness made the cell's environment already (its pins are checked when it is used)."""
    return (env_dir(cell, device, root) / "bin" / "python").exists()


def install(cell: Cell, device: str = "cpu", root: Path | None = None, *, check: bool = False) -> Interpreter:
    """The cell's uv environment, installed or completed now when its pins are missing (a current one: ~0.3 s).

    A failed install leaves `install.log` in the environment, quoted in the cell's `install` rows (with
    `check`, it raises UserError naming the installer's last line instead).
    """
    venv = env_dir(cell, device, root)
    python = venv / "bin" / "python"
    log = venv / "install.log"
    pins = tuple(cell.pins_for(device))
    interp = Interpreter(str(python), (), pins, f"uv environment {venv}", log)
    if python.exists() and not problems(cell, interp):
        return interp
    uv, env = uv_binary(), _uv_env()
    if not python.exists():
        made = subprocess.run(
            [uv, "venv", "-q", "-p", base_python(cell.python), str(venv)], capture_output=True, text=True, env=env
        )
        if made.returncode != 0:
            return _failed(interp, made, f"no Python {cell.python} for the environment", check, cell)
    proc = subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), *pins], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        return _failed(interp, proc, f"installing {' '.join(pins)} failed", check, cell)
    log.unlink(missing_ok=True)
    return interp


def _failed(
    interp: Interpreter, proc: subprocess.CompletedProcess[str], what: str, check: bool, cell: Cell
) -> Interpreter:
    """Keep the installer's output beside the environment; raise instead with `check`."""
    assert interp.install_log is not None
    interp.install_log.parent.mkdir(parents=True, exist_ok=True)
    interp.install_log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if check:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1].strip()
        raise UserError(f"{cell.id}: {what}: {last}")
    return interp


def given(cell: Cell, python: str, device: str = "cpu") -> Interpreter:
    """An interpreter the user names, used as it is (its pins are checked, not installed)."""
    found = str(Path(python).absolute()) if os.sep in python else shutil.which(python)
    if not found or not Path(found).exists():
        raise UserError(f"{cell.id}: interpreter {python} does not exist")
    return Interpreter(found, (), tuple(cell.pins_for(device)), f"interpreter {python}")


def this_interpreter() -> Interpreter:
    """The interpreter running the harness, as a user's own environment (no pins to check)."""
    return Interpreter(sys.executable, (), (), "this interpreter")


def in_place(cell: Cell, site: Path | None, device: str) -> Interpreter:
    """This interpreter with the cell's Keras unpacked at `site` (None: no wheels for it, so its pins are missing)."""
    return Interpreter(
        sys.executable,
        (str(site),) if site else (),
        tuple(cell.pins_for(device)),
        f"this interpreter with wheels from {site}" if site else "this interpreter (no wheels for this Keras)",
    )


def _dist_name(pin: str) -> tuple[str, str]:
    name, _, version = pin.partition("==")
    return name.split("[")[0].strip(), version.strip()


_PROBE = """
import importlib.metadata as m, json, platform, sys
found = {}
for name in sys.argv[1:]:
    try:
        found[name] = m.version(name)
    except m.PackageNotFoundError:
        pass
print(json.dumps({"python": platform.python_version(), "versions": found}))
"""


def _public(version: str) -> str:
    """The release without its local build label (`2.11.0+cu130` -> `2.11.0`): CPU and CUDA builds compare equal."""
    return version.split("+")[0]


def problems(cell: Cell, interp: Interpreter) -> list[str]:
    """The pins the interpreter lacks at the pinned release, a Python of another version (or why it cannot tell)."""
    names = [_dist_name(pin)[0] for pin in interp.pins]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(interp.pythonpath)} if interp.pythonpath else None
    try:
        proc = subprocess.run(
            [interp.python, "-c", _PROBE, *names], capture_output=True, text=True, timeout=120, env=env
        )
        seen = json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
        return [f"cannot run the cell's interpreter {interp.python}: {exc}"]
    found = []
    if seen["python"] != cell.python and not seen["python"].startswith(cell.python + "."):
        found.append(f"python is {seen['python']}, the cell pins {cell.python}")
    for pin in interp.pins:
        name, version = _dist_name(pin)
        have = seen["versions"].get(name)
        if have is None:
            found.append(f"{name} is not installed (pinned {version})")
        elif _public(have) != _public(version):
            found.append(f"{name} is {have}, pinned {version}")
    return found


def reads(interp: Interpreter) -> list[Path]:
    """The folders a child in this interpreter reads from: the harness, the environment, its base Python."""
    python = Path(interp.python)
    found = [ROOT, python.parent.parent, *(Path(p) for p in interp.pythonpath)]
    cfg = python.parent.parent / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                found.append(Path(value.strip()).parent)
    else:
        found.append(python.resolve().parent.parent)
    return found


def install_log(interp: Interpreter) -> str:
    """The installer's output when the last install into this environment failed ('' otherwise)."""
    log = interp.install_log
    return log.read_text(encoding="utf-8", errors="replace") if log and log.exists() else ""


def child_env(cell: Cell, interp: Interpreter, tmp: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A child's explicit environment: allow-listed variables, the cell's switches, a private home and temp."""
    return _explicit(cell.env, interp, tmp, extra)


def own_env(interp: Interpreter, tmp: Path) -> dict[str, str]:
    """The environment of a child in the user's own interpreter: its Keras switches as set, the flavor detected."""
    switches = {k: os.environ[k] for k in ("KERAS_BACKEND", "TF_USE_LEGACY_KERAS") if k in os.environ}
    return _explicit({**switches, "MASKCOMPAT_FLAVOR": "auto"}, interp, tmp, None)


def _explicit(switches: dict[str, str], interp: Interpreter, tmp: Path, extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update(switches)
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT), *interp.pythonpath]),
            "PYTHONHASHSEED": "0",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "KERAS_HOME": str(tmp / "keras_home"),
            "TMPDIR": str(tmp),
            "MPLBACKEND": "Agg",
        }
    )
    env.update(extra or {})
    return env
