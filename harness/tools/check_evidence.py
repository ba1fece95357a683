"""What the matrix's own upgrade rows say about a file `check` inspects: files of its saving release, and files
with the same kind of finding (read from `results/`, no framework)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from harness.decl import zoo_match
from harness.decl.cells import Cell, Matrix
from harness.readers.model import cell_order, runs_label
from harness.tools.inspect import Inspection

OBJECTS = {  # a layer class that took a tensor or array value -> the beyond-masking case that measures it
    "Rescaling": "rescaling",
    "Normalization": "normalization",
    "Discretization": "discretization",
    "IntegerLookup": "integer-lookup",
    "StringLookup": "string-lookup",
    "Embedding": "embedding",
    "Dense": "constant",
}


def zoo_kinds(insp: Inspection) -> list[str]:
    """The zoo's kinds this file is made of, read from its config (no framework; `harness.decl.zoo_match`)."""
    return zoo_match.kinds(insp.config, insp.compiled)


def _fmt(insp: Inspection) -> str:
    return ".h5" if insp.kind == "h5" else ".keras"


def matrix_rows(results: Path) -> list[dict[str, Any]]:
    """The rows of the machine with the most upgrade rows (the evidence the findings cite)."""
    from harness.store import rowfiles

    if not results.is_dir():
        return []
    folders = [p for p in sorted(results.iterdir()) if p.is_dir() and any(p.glob("*.upgrade.jsonl.gz"))]
    if not folders:
        return []
    best = max(folders, key=lambda p: sum(f.stat().st_size for f in p.glob("*.upgrade.jsonl.gz")))
    paths = sorted(best.glob("*.upgrade.jsonl.gz")) + sorted(best.glob("*.jsonl"))
    return [r for p in paths for r in rowfiles.read_file(p)]


def _loaders(df: Any, savers: list[Cell], matrix: Matrix) -> str:
    from harness.readers.sections import upgrade_paths

    good, bad = upgrade_paths.ok_loaders(df, savers, matrix)
    return f"loads and predicts the same on {runs_label(good)}; not on {runs_label(bad)}"


def evidence(insp: Inspection, rows: list[dict[str, Any]], matrix: Matrix, upgrade: Any) -> dict[str, str]:
    """What the matrix's own rows say: about files this release saves, and about each finding's kind."""
    said: dict[str, str] = {}
    if upgrade is None or not rows or importlib.util.find_spec("pandas") is None:
        return said  # without pandas (a user's own environment) the static pass tells no evidence
    from harness.readers.sections import upgrade_paths

    df = upgrade_paths.frame(rows, matrix, upgrade)
    same = [c for c in matrix.cells if insp.keras_version and insp.keras_version in (c.keras, c.tf_keras)]
    fmt = _fmt(insp)
    kinds = zoo_kinds(insp)
    if same and not df.empty and (insp.masks or not kinds):  # the seed's rows speak for a masked RNN only
        plain = df[(df["source"] == f"masking-lstm/list:{fmt}") & (df["text"] != "not saved")]
        if not plain.empty and set(plain["saved_by"]) & {c.id for c in same}:
            said["release"] = (
                f"in the matrix, a plain `{fmt}` model (Masking with a list mask_value -> LSTM) saved by Keras "
                f"{insp.keras_version} " + _loaders(plain, same, matrix)
            )
    from harness.readers import zoo  # pandas: only where the evidence is told (checked above)

    for kind in kinds[: zoo_match.QUOTED]:  # the rows of the zoo's files of the same kinds, saved by this release
        savers, good, bad = zoo.quoted(df, kind, fmt, insp.keras_version or "", matrix)
        if savers:
            said[f"zoo:{kind}"] = f"in the matrix, the zoo's `{kind}` `{fmt}` model saved by Keras " \
                                  f"{insp.keras_version} loads and predicts the same on {runs_label(good)}; " \
                                  f"not on {runs_label(bad)}"  # fmt: skip
    for finding in insp.findings:
        if finding.kind != "tagged-value" or finding.kind in said:
            continue
        cls = finding.layer.split(" ")[0]
        value = "tensor" if "__tensor__" in finding.detail else "numpy"
        if cls == "Masking":
            source = f"masking-lstm/{'tensor-float64' if value == 'tensor' else 'numpy'}:{fmt}"
        elif cls in OBJECTS:
            source = f"beyond-masking/{OBJECTS[cls]}:{value}:{fmt}"
        else:
            continue
        sub = df[(df["source"] == source) & (df["text"] != "not saved")]
        savers = [c for c in same if c.id in set(sub["saved_by"])]
        if savers:
            said["tagged-value"] = f"in the matrix, `{source}` saved by Keras {insp.keras_version} " + _loaders(
                sub, savers, matrix
            )
        elif not sub.empty:
            own = sub[sub["saved_by"] == sub["loaded_by"]]
            broken = sorted({str(s) for s, t in zip(own["saved_by"], own["text"], strict=True) if t != "ok"})
            said["tagged-value"] = f"in the matrix, `{source}` fails after a round trip in its own release on " + (
                runs_label(sorted((matrix.get(b) for b in broken), key=cell_order)) if broken else "no release"
            )
    return said
