"""Bisect records (`experiments/bisect/*.json`): the first releases the report's Answers and summary cite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import UserError

NEEDED = ("case", "axis", "kind", "base", "first_release", "summary", "write_up")


def load(folder: Path | None) -> list[dict[str, Any]]:
    """Every bisect record in the folder, in name order; a file that is not one stops with one line."""
    if folder is None or not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: not a readable bisect record ({exc})") from None
        missing = [k for k in NEEDED if not isinstance(rec, dict) or k not in rec]
        if missing:
            raise UserError(f"{path}: bisect record lacks {', '.join(missing)} (rerun that bisect)")
        out.append({**rec, "path": path})
    return out


def fixed_in(records: list[dict[str, Any]], case: str, flavor: str, backend: str) -> dict[str, Any] | None:
    """The outcome bisect of this case on a base of this family that found a first release, if one ran."""
    for rec in records:
        base = rec["base"]
        if (
            rec["kind"] == "outcome"
            and rec["case"] == case
            and rec["first_release"]
            and base.get("keras_flavor") == flavor
            and base.get("backend") == backend
        ):
            return rec
    return None


def regressions(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Latency bisects that found a step (slower or faster), in name order."""
    return [r for r in records if r["kind"] == "latency" and r["first_release"]]
