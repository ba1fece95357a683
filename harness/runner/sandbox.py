"""The sandbox a child runs in when it loads a file the user did not write (`check`).

Where the machine allows it, bubblewrap (`bwrap`) starts the child with no network (a new, empty network
namespace), a read-only view of the file system with the user's HOME hidden, and a private folder as its only
writable place: `home/` (HOME), `work/` (its working directory), `tmp/` (TMPDIR, and what the child sees as
/tmp and /var/tmp) and `out/` (the outputs the parent reads); the file itself is a read-only copy in `in/`. The
child gets an allow-listed environment (`ALLOWED_ENV`, with HOME and TMPDIR moved into the folder) and sets
limits on itself before it imports anything (`harness.child.limits`): memory (its data segment), CPU time,
the size of a file it writes, and the number of its processes and threads. Without bubblewrap, `unshare` still
takes the network away where the kernel allows it, and `statement()` says plainly what is and is not isolated.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UserError
from harness.runner import envs

UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
SIGNALS = {24: "cpu", 25: "file-size", 9: "killed"}  # SIGXCPU, SIGXFSZ, SIGKILL
HIDDEN = ("/tmp", "/var/tmp")  # replaced by the sandbox's own tmp/ (the user's HOME by an empty folder)
# The only variables a sandboxed child gets: what any child inherits, the switches the harness sets, its own.
ALLOWED_ENV = (*envs.PASSED_ENV, "PYTHONPATH", "PYTHONHASHSEED", "TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND", "KERAS_BACKEND",
               "TF_USE_LEGACY_KERAS", "MASKCOMPAT_FLAVOR", "MASKCOMPAT_RESULT_FD")  # fmt: skip
# Messages by which a framework reports a limit the child set on itself.
SYMPTOMS = {
    "memory": ("MemoryError", "bad_alloc", "Cannot allocate memory", "Unable to allocate", "out of memory",
               "OOM when allocating"),
    "file-size": ("File too large", "[Errno 27]"),
    "processes": ("can't start new thread", "Resource temporarily unavailable", "[Errno 11]",
                  "pthread_create failed", "Thread creation failed"),
}  # fmt: skip


@dataclass(frozen=True)
class Limits:
    """What a sandboxed child may use: memory (bytes), CPU time (s), one file's size (bytes), processes and
    threads, and the wall-clock time the parent waits for an answer (s)."""

    memory: int = 8 << 30
    cpu: int = 3600
    file_size: int = 1 << 30
    processes: int = 512
    wall: int = 600

    def describe(self, name: str) -> str:
        """One limit, as a reader wants it ("8 GiB of memory")."""
        value = {"memory": self.memory, "cpu": self.cpu, "file-size": self.file_size, "processes": self.processes,
                 "wall": self.wall}  # fmt: skip
        if name in ("memory", "file-size"):
            size = value[name]
            unit = next(u for u in ("G", "M", "K", "") if size >= UNITS[u] and size % UNITS[u] == 0)
            what = "of memory" if name == "memory" else "per written file"
            return f"{size // UNITS[unit]} {unit + 'iB' if unit else 'bytes'} {what}"
        unit_of = {"cpu": "s of CPU time", "processes": "processes and threads", "wall": "s of wall-clock time"}
        return f"{value[name]} {unit_of[name]}"


def parse_limit(text: str, limits: Limits) -> Limits:
    """`NAME=VALUE` (memory=4G, cpu=60, file-size=100M, processes=64, wall=300) applied to `limits`; bad input
    raises."""
    name, _, value = text.partition("=")
    keys = {"memory": "memory", "cpu": "cpu", "file-size": "file_size", "processes": "processes", "wall": "wall"}
    if name not in keys or not value:
        raise UserError(f"--limit {text}: give NAME=VALUE with NAME one of {', '.join(keys)}")
    number, unit = (value[:-1], value[-1].upper()) if value[-1].upper() in "KMG" else (value, "")
    if not number.isdigit() or int(number) < 1 or (unit and name not in ("memory", "file-size")):
        raise UserError(f"--limit {text}: {value!r} is not a positive whole number (sizes may end in K, M or G)")
    return Limits(**{**limits.__dict__, keys[name]: int(number) * UNITS[unit]})


@dataclass(frozen=True)
class Isolation:
    """What this machine lets a sandbox take away: the tool that does it, the network, the file system."""

    tool: str  # bwrap | unshare | "" (nothing)
    network: bool
    filesystem: bool
    why_not: str = ""  # the reason isolation is missing, from the tool's own message
    pids: str = ""  # how the process count is limited: cgroup | rlimit | "" (not at all)

    @property
    def complete(self) -> bool:
        """Network and file system both isolated: the bar for running code from a file (`--trust`)."""
        return self.network and self.filesystem


def _works(argv: list[str]) -> str | None:
    """None when the command runs and exits 0, else its last line of error output."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]


@functools.cache
def probe() -> Isolation:
    """Try bubblewrap, then unshare, once per process: what isolation this machine allows."""
    found = _tools()
    if os.geteuid() == 0:  # the kernel exempts root from RLIMIT_NPROC: only a cgroup can count its processes
        group = _pids_cgroup(f"probe-{os.getpid()}", 1)
        if group is not None:
            group.rmdir()
        pids = "cgroup" if group is not None else ""
    else:  # counted per user namespace (Linux 5.14), which only bubblewrap makes here
        pids = "rlimit" if found.tool == "bwrap" else ""
    return Isolation(found.tool, found.network, found.filesystem, found.why_not, pids)


def _tools() -> Isolation:
    """The first tool that isolates something here: bubblewrap (network and files), else unshare (network)."""
    bwrap = shutil.which("bwrap")
    reasons = []
    if bwrap:
        failed = _works([bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
                         "--die-with-parent", "--tmpfs", "/tmp", "true"])  # fmt: skip
        if failed is None:
            return Isolation("bwrap", True, True)
        reasons.append(f"bubblewrap cannot start here ({failed})")
    else:
        reasons.append("bubblewrap (bwrap) is not installed")
    unshare = shutil.which("unshare")
    if unshare:
        argv = [unshare, "--net", "true"] if os.geteuid() == 0 else [unshare, "--net", "--map-root-user", "true"]
        failed = _works(argv)
        if failed is None:
            return Isolation("unshare", True, False, reasons[0])
        reasons.append(f"unshare cannot make a network namespace ({failed})")
    else:
        reasons.append("unshare is not installed")
    return Isolation("", False, False, "; ".join(reasons))


@dataclass
class Sandbox:
    """One child's sandbox: its private folder, how to start a command in it, and what it keeps the child from."""

    root: Path
    limits: Limits = field(default_factory=Limits)
    isolation: Isolation = field(default_factory=probe)
    device: str = "cpu"
    cgroup: Path | None = None

    @classmethod
    def make(cls, prefix: str, limits: Limits, device: str = "cpu") -> Sandbox:
        """A new private folder with its parts (home, work, tmp, out, in, keras)."""
        root = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
        for part in ("home", "work", "tmp", "out", "in", "keras"):
            (root / part).mkdir()
        box = cls(root, limits, probe(), device)
        box.cgroup = _pids_cgroup(root.name, limits.processes) if box.isolation.pids == "cgroup" else None
        return box

    def take(self, path: Path) -> Path:
        """A copy of the user's file or folder in `in/` (made read-only by `seal`)."""
        copy = self.root / "in" / path.name
        if path.is_dir():
            shutil.copytree(path, copy, symlinks=False)
        else:
            shutil.copyfile(path, copy)
        return copy

    def seal(self) -> None:
        """Make everything in `in/` read-only (bubblewrap binds it read-only as well)."""
        for p in sorted(self.root.joinpath("in").rglob("*"), reverse=True):
            if not p.is_symlink():
                p.chmod(0o555 if p.is_dir() else 0o444)

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """`base` cut to the allow-list, with HOME, TMPDIR, KERAS_HOME and the limits inside the folder."""
        nproc = self.isolation.pids == "rlimit"
        limits = f"data={self.limits.memory},cpu={self.limits.cpu},fsize={self.limits.file_size}"
        return {
            **{k: v for k, v in base.items() if k in ALLOWED_ENV},
            "HOME": str(self.root / "home"),
            "TMPDIR": str(self.root / "tmp"),
            "KERAS_HOME": str(self.root / "keras"),
            "MASKCOMPAT_LIMITS": limits + (f",nproc={self.limits.processes}" if nproc else ""),
        }

    def command(self, argv: list[str], reads: list[Path]) -> list[str]:
        """`argv` wrapped to run in the sandbox; `reads` are the folders it needs that a hidden place may cover."""
        iso = self.isolation
        if iso.tool == "bwrap":
            wrap = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL",
                    "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]  # fmt: skip
            home = os.environ.get("HOME", "")
            if home and home != "/" and Path(home).is_dir():
                wrap += ["--tmpfs", home]
            for hidden in HIDDEN:  # the sandbox's tmp/ stands in for them, so what lands there is seen
                if Path(hidden).is_dir():
                    wrap += ["--bind", str(self.root / "tmp"), hidden]
            for path in dict.fromkeys(p.resolve() for p in reads if p.exists()):
                wrap += ["--ro-bind", str(path), str(path)]
            if self.device == "gpu":
                for dev in [*sorted(Path("/dev").glob("nvidia*")), Path("/dev/dri")]:
                    if dev.exists():
                        wrap += ["--dev-bind", str(dev), str(dev)]
            wrap += ["--bind", str(self.root), str(self.root), "--ro-bind", str(self.root / "in"),
                     str(self.root / "in"), "--chdir", str(self.root / "work"), "--"]  # fmt: skip
        elif iso.tool == "unshare":
            wrap = ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"]) + ["--"]
        else:
            wrap = []
        if self.cgroup is not None:  # the shell moves itself into the pids cgroup, then becomes the sandbox
            wrap = ["/bin/sh", "-c", f'echo $$ > "{self.cgroup / "cgroup.procs"}" && exec "$@"', "sh", *wrap]
        return wrap + argv

    def statement(self) -> dict[str, str]:
        """What the sandbox keeps from the child, one plain sentence per aspect."""
        iso, lim = self.isolation, self.limits
        network = (
            "none: a new, empty network namespace" + (" (bubblewrap)" if iso.tool == "bwrap" else " (unshare)")
            if iso.network
            else f"NOT isolated: {iso.why_not}"
        )
        files = (
            "read-only, with HOME hidden and /tmp and /var/tmp the sandbox's own; writable only: the sandbox's folder"
            if iso.filesystem
            else "NOT isolated: the child sees and may write what your user may, outside its private HOME, working "
            f"folder and TMPDIR ({iso.why_not})"
        )
        if iso.pids == "cgroup":
            processes = f"{lim.processes} (a pids cgroup)"
        elif iso.pids == "rlimit":
            processes = f"{lim.processes} (RLIMIT_NPROC in the sandbox's user namespace)"
        else:
            processes = "not limited: " + (
                "the kernel exempts root from RLIMIT_NPROC and no pids cgroup could be made"
                if os.geteuid() == 0
                else "RLIMIT_NPROC would count every process of your user without a user namespace"
            )
        return {
            "network": network,
            "file system": files,
            "environment": "an allow-list (PATH, locale, thread counts and the cell's own switches); HOME and "
            "TMPDIR inside the sandbox",
            "limits": f"{lim.describe('memory')}, {lim.describe('cpu')}, {lim.describe('file-size')}, "
            f"{lim.describe('wall')}, processes and threads: {processes}",
        }

    def written(self) -> list[str]:
        """Files the child left in its writable places (home, work, tmp), relative to the folder; links included."""
        found = []
        for part in ("home", "work", "tmp"):
            for dirpath, dirnames, filenames in os.walk(self.root / part):
                for name in filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]:
                    found.append(str(Path(dirpath, name).relative_to(self.root)))
        return sorted(found)

    def explain(self, exit_code: int | None, message: str) -> str | None:
        """The limit a lost or failed child went over, from its exit signal or the framework's message."""
        signal = -exit_code if exit_code is not None and exit_code < 0 else (exit_code or 0) - 128
        name = SIGNALS.get(signal)
        if name is None or name == "killed":
            name = next((n for n, marks in SYMPTOMS.items() if any(m in message for m in marks)), name)
        if name is None:
            return None
        if name == "killed":
            return "was killed (SIGKILL): by the CPU time limit's hard stop or the kernel's out-of-memory killer"
        return f"went over the sandbox's limit of {self.limits.describe(name)}"

    def close(self, keep: bool = False) -> None:
        """Remove the folder (unless `keep`) and the pids cgroup."""
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()
        if not keep:
            for p in self.root.joinpath("in").rglob("*"):
                if p.is_dir() and not p.is_symlink():
                    p.chmod(0o755)
            self.root.joinpath("in").chmod(0o755)
            shutil.rmtree(self.root, ignore_errors=True)


def _pids_cgroup(name: str, processes: int) -> Path | None:
    """A pids cgroup limiting a sandbox to `processes` tasks, where this user may make one: cgroup v1's pids
    hierarchy, or the v2 root when this process sits in it (a v2 cgroup with processes cannot delegate pids)."""
    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    candidates = [Path("/sys/fs/cgroup/pids")]
    with contextlib.suppress(OSError):
        if "pids" in v2.read_text().split() and "0::/\n" in Path("/proc/self/cgroup").read_text():
            candidates.append(v2.parent)
    for base in candidates:
        group = base / f"maskcompat-{name}"
        try:
            group.mkdir()
            (group / "pids.max").write_text(str(processes))
            return group
        except OSError:
            with contextlib.suppress(OSError):
                group.rmdir()
    return None
