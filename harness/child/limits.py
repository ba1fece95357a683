"""Limits a sandboxed child sets on itself before it imports anything (`MASKCOMPAT_LIMITS`, from the runner's
sandbox): hard limits the code it later loads cannot raise again."""

from __future__ import annotations

import os
import resource

NAMES = {"data": resource.RLIMIT_DATA, "cpu": resource.RLIMIT_CPU, "fsize": resource.RLIMIT_FSIZE,
         "nproc": resource.RLIMIT_NPROC}  # fmt: skip
CPU_GRACE_S = 5  # SIGXCPU at the limit (the parent names it), SIGKILL this much later if it is ignored


def apply(spec: str | None = None) -> dict[str, int]:
    """Set each `name=value` of the spec (default: the environment's) as soft and hard limit; what was set."""
    spec = os.environ.get("MASKCOMPAT_LIMITS", "") if spec is None else spec
    done: dict[str, int] = {}
    for part in filter(None, spec.split(",")):
        name, _, value = part.partition("=")
        limit = int(value)
        hard = limit + CPU_GRACE_S if name == "cpu" else limit
        resource.setrlimit(NAMES[name], (limit, hard))
        done[name] = limit
    return done
