"""The CI job matrix from the cells listing: one job per default cell, GPU cells apart (they need a GPU runner)."""

from __future__ import annotations

import json
from typing import Any

from harness.errors import UserError


def job_matrix(listing: Any) -> dict[str, list[dict[str, str]]]:
    """{"cpu": [...], "gpu": [...]}, each entry {"cell": id}: what a workflow's `strategy.matrix` takes."""
    if not isinstance(listing, dict) or not isinstance(listing.get("cells"), list):
        raise UserError("expected the JSON object that `python -m harness cells --json` prints")
    out: dict[str, list[dict[str, str]]] = {"cpu": [], "gpu": []}
    for item in listing["cells"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise UserError(f"a cell entry without an id: {item!r}")
        if "gpu" in (item.get("roles") or []):
            out["gpu"].append({"cell": item["id"]})
        elif item.get("default", True):
            out["cpu"].append({"cell": item["id"]})
    if not out["cpu"] and not out["gpu"]:
        raise UserError("the cells listing has no cells")
    return out


def github_output(matrix: dict[str, list[dict[str, str]]]) -> str:
    """`name=value` lines for $GITHUB_OUTPUT (compact JSON on one line each)."""
    return "".join(f"{k}={json.dumps(v, separators=(',', ':'))}\n" for k, v in matrix.items())
