"""The verdicts of two `check --json` outputs of the same file, target by target: what differs.

    python experiments/check/verdicts.py BEFORE.json AFTER.json
"""

from __future__ import annotations

import json
import sys

KEYS = ("outcome", "failed_stage", "error_type", "error_signature", "fix", "masking")


def verdicts(path: str) -> dict[str, tuple[object, ...]]:
    (record,) = json.load(open(path))["files"]
    return {t["cell_id"]: tuple(t.get(k) for k in KEYS) + (t["max_abs_diff"] is not None,) for t in record["targets"]}


before, after = verdicts(sys.argv[1]), verdicts(sys.argv[2])
differ = {c: (before.get(c), after.get(c)) for c in sorted(set(before) | set(after)) if before.get(c) != after.get(c)}
print(f"{len(before)} targets before, {len(after)} after, {len(differ)} differ")
for cell, (b, a) in differ.items():
    print(f"  {cell}: {b} -> {a}")
sys.exit(1 if differ else 0)
