"""The CI job matrix from `nox -l --json -s matrix`: one job per cell, GPU cells apart (they need a GPU runner)."""

from __future__ import annotations

import json
from typing import Any

from harness.errors import UserError


def job_matrix(listing: Any) -> dict[str, list[dict[str, str]]]:
    """{"cpu": [...], "gpu": [...]}, each entry {"session", "cell"}: what a workflow's `strategy.matrix` takes."""
    if not isinstance(listing, list):
        raise UserError("expected the JSON list that `nox -l --json -s matrix` prints")
    out: dict[str, list[dict[str, str]]] = {"cpu": [], "gpu": []}
    for item in listing:
        if not isinstance(item, dict) or item.get("name") != "matrix":
            continue
        cell = (item.get("call_spec") or {}).get("cell")
        if not cell:
            raise UserError(f"matrix session {item.get('session')!r} has no cell parameter")
        kind = "gpu" if "gpu" in (item.get("tags") or []) else "cpu"
        out[kind].append({"session": str(item["session"]), "cell": str(cell)})
    if not out["cpu"] and not out["gpu"]:
        raise UserError("the nox listing has no matrix sessions")
    return out


def github_output(matrix: dict[str, list[dict[str, str]]]) -> str:
    """`name=value` lines for $GITHUB_OUTPUT (compact JSON on one line each)."""
    return "".join(f"{k}={json.dumps(v, separators=(',', ':'))}\n" for k, v in matrix.items())
