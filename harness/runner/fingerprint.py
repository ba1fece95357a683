"""Environment fingerprint, one small function per aspect; rows from different machines never merge."""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
from typing import Any


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or platform.processor elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown-cpu"


def memory_gib() -> int:
    """Total memory in GiB, rounded."""
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError, AttributeError):
        return 0


def cpu_ticks() -> tuple[int, int] | None:
    """(steal, total) CPU ticks since boot from /proc/stat: steal is time a hypervisor gave the vCPUs away."""
    try:
        with open("/proc/stat", encoding="utf-8") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def steal_fraction(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Share of CPU time stolen by the hypervisor between two `cpu_ticks` readings (None: unknown)."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return round((after[0] - before[0]) / (after[1] - before[1]), 4)


def cores() -> int:
    """CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_id(cpu: str, ncores: int, mem: int) -> str:
    """A stable folder name for a machine class: MASKCOMPAT_MACHINE, or arch-cpu-cores-memory."""
    override = os.environ.get("MASKCOMPAT_MACHINE")
    if override:
        return re.sub(r"[^\w.-]+", "-", override)
    slug = re.sub(r"\(r\)|\(tm\)|cpu|processor|@.*$", "", cpu.lower())
    slug = re.sub(r"[^a-z0-9]+", "-", slug).strip("-")[:40] or "cpu"
    return f"{platform.machine()}-{slug}-{ncores}c-{mem}g"


def gpu_name() -> str | None:
    """The first NVIDIA GPU's name from nvidia-smi, or None when there is none."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return names[0] if out.returncode == 0 and names else None


def resolve_device(device: str) -> str:
    """`cpu` or `gpu`; `auto` is `gpu` where nvidia-smi names a GPU."""
    if device == "auto":
        return "gpu" if gpu_name() else "cpu"
    if device not in ("cpu", "gpu"):
        raise ValueError(f"device must be cpu, gpu or auto, not {device!r}")
    return device


def machine(device: str = "cpu") -> dict[str, Any]:
    """What every row records about the machine it ran on; GPU runs get their own machine id (never mixed)."""
    cpu, ncores, mem = cpu_model(), cores(), memory_gib()
    mid = machine_id(cpu, ncores, mem)
    gpu = gpu_name() if device == "gpu" else None
    if device == "gpu":
        mid += "-" + (re.sub(r"[^a-z0-9]+", "-", (gpu or "gpu").lower()).strip("-")[:30] or "gpu")
    return {
        "id": mid,
        **({"gpu": gpu} if device == "gpu" else {}),
        "cpu": cpu,
        "cores": ncores,
        "memory_gib": mem,
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "hostname": socket.gethostname(),
    }
