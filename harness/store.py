"""Result files: `results/<machine>/<cell>.jsonl`, one row per case, written atomically, read strictly."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness import schema
from harness.errors import UserError


def cell_path(results: Path, machine_id: str, cell_id: str) -> Path:
    """Where one cell's rows live; the machine folder keeps machines from overwriting each other."""
    return results / machine_id / f"{cell_id}.jsonl"


def read_file(path: Path) -> list[dict[str, Any]]:
    """Rows of one file; a corrupt line or unknown schema raises UserError with file:line."""
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"cannot read results file {path}: {exc.strerror}") from None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{no}: corrupt result line ({exc.msg})") from None
        rows.append(schema.check(row, f"{path}:{no}"))
    return rows


def read_all(results: Path) -> list[dict[str, Any]]:
    """Every row under the results folder, machine folders included, in a stable order."""
    if not results.is_dir():
        raise UserError(f"results folder {results} does not exist; run `nox -s matrix` first")
    rows: list[dict[str, Any]] = []
    for path in sorted(results.glob("*/*.jsonl")):
        rows.extend(read_file(path))
    return rows


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return (row["scenario"], row["case_id"])


def write_rows(path: Path, rows: Iterable[dict[str, Any]], order: list[tuple[str, str]]) -> None:
    """Replace the file in one atomic step: sorted keys, rows in the scenario's case order."""
    rank = {key: i for i, key in enumerate(order)}
    ordered = sorted(rows, key=lambda r: (rank.get(_key(r), len(rank)), _key(r)))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in ordered:
                fh.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Replace a text file (a triage or bisect write-up) in one atomic step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def upsert(path: Path, new: list[dict[str, Any]], order: list[tuple[str, str]]) -> None:
    """Merge rows into the cell's file, replacing rows of the same (scenario, case)."""
    old = read_file(path) if path.exists() else []
    fresh_keys = {_key(r) for r in new}
    write_rows(path, [r for r in old if _key(r) not in fresh_keys] + new, order)


def is_stale(row: dict[str, Any], cell: Any, scen: Any) -> bool:
    """A row measured by other code, another scenario or other pins does not speak for the current ones."""
    from harness import __version__

    return bool(
        row["scenario_hash"] != scen.hash or row["cell_hash"] != cell.hash or row["harness_version"] != __version__
    )


def stale_cases(
    path: Path, cases: list[tuple[str, str]], hashes: dict[str, str], cell_hash: str, harness_version: str
) -> list[tuple[str, str]]:
    """Cases without an up-to-date row: missing, other hashes or version, a failed install, or unfinished timing."""
    rows = {_key(r): r for r in read_file(path)} if path.exists() else {}
    stale = []
    for key in cases:
        row = rows.get(key)
        if (
            row is None
            or row["scenario_hash"] != hashes.get(key[0])
            or row["cell_hash"] != cell_hash
            or row["harness_version"] != harness_version
            or row["failed_stage"] == "install"
            or row.get("complete") is False
        ):
            stale.append(key)
    return stale
