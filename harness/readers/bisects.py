"""Bisect records (`experiments/bisect/*.json`): the first releases the report's Answers and summary cite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.readers.model import vkey

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


def _pick(cells: dict[str, Any], base: dict[str, Any], release: str, tf: str | None) -> str | None:
    """The cell of the base's family whose Keras release is `release`, or the nearest one of the same minor
    (a bisect names 3.0.0 where the matrix pins 3.0.5), on the base's TensorFlow where it can."""
    pool = [(cid, c) for cid, c in cells.items()
            if c["keras_flavor"] == base.get("keras_flavor") and c["backend"] == base.get("backend")
            and (c["keras"] or c["tf_keras"] or "").split(".")[:2] == release.split(".")[:2]]  # fmt: skip
    pool.sort(key=lambda ic: (ic[1]["tensorflow"] != tf, abs(vkey(ic[1]["keras"] or "0")[-1] - vkey(release)[-1])))
    return pool[0][0] if pool else None


def contradicted(records: list[dict[str, Any]], data: dict[str, Any]) -> list[dict[str, Any]]:
    """Latency bisect probes that newer rows contradict: the probe's verdict (a change beyond its threshold, or
    none) against the same two releases' CPU figures in the summary, whose 95% CIs are apart (or overlap)."""
    out = []
    cells = data["cells"]
    for rec in (r for r in records if r["kind"] == "latency"):
        case = rec["case"]
        base = rec["base"]
        tf = cells.get(base.get("cell"), {}).get("tensorflow")
        for probe in rec.get("probes") or []:
            a, b = _pick(cells, base, str(probe["against"]), tf), _pick(cells, base, str(probe["release"]), tf)
            for mid in sorted({e["machine"] for e in data["latency"]}):
                fig = {e["cell_id"]: e for e in data["latency"] if e["machine"] == mid and e["case"] == case
                       and e["device"] == "cpu" and e["ci_ms"]}  # fmt: skip
                if a is None or b is None or a == b or a not in fig or b not in fig:
                    continue
                fa, fb = fig[a], fig[b]
                apart = fa["ci_ms"][1] < fb["ci_ms"][0] or fb["ci_ms"][1] < fa["ci_ms"][0]
                change = fb["ms"] / fa["ms"] - 1
                said_changed = probe.get("verdict") != "unchanged"
                now_changed = apart and abs(change) > float(rec.get("threshold") or 0.1)
                if said_changed != now_changed:
                    out.append({"record": rec, "probe": probe, "machine": mid, "from": a, "to": b, "change": change,
                                "apart": apart})  # fmt: skip
    return out
