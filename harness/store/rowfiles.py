"""Result files: `results/<machine>/<cell>.jsonl`, one row per case, written atomically, read strictly.

A cell's upgrade rows (every file of every saving cell, loaded in that cell: thousands of rows) live beside
it, compressed: `<cell>.upgrade.jsonl.gz` (gzip without a timestamp, so rewriting the same rows gives the
same bytes). Writers that share a results folder (two terminals, CI jobs on one workspace, the threads of one run)
take an exclusive lock on the machine folder around each read-modify-write, so none loses another's row.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.store import schema

PATTERNS = ("*/*.jsonl", "*/*.jsonl.gz")


def cell_path(results: Path, machine_id: str, cell_id: str, part: str = "") -> Path:
    """Where one cell's rows live (`part="upgrade"`: its compressed upgrade rows); one folder per machine."""
    if part:
        return results / machine_id / f"{cell_id}.{part}.jsonl.gz"
    return results / machine_id / f"{cell_id}.jsonl"


def cell_files(results: Path) -> list[Path]:
    """Every results file under a results folder, in a stable order."""
    return sorted(p for pattern in PATTERNS for p in results.glob(pattern))


def read_file(path: Path, older: bool = False) -> list[dict[str, Any]]:
    """Rows of one file; a corrupt line or unknown schema raises UserError with file:line."""
    rows = []
    try:
        data = path.read_bytes()
        lines = (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8").splitlines()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"cannot read results file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{no}: corrupt result line ({exc.msg})") from None
        rows.append(schema.check(row, f"{path}:{no}", older))
    return rows


def read_all(results: Path, older: bool = False) -> list[dict[str, Any]]:
    """Every row under the results folder, machine folders included, in a stable order."""
    if not results.is_dir():
        raise UserError(f"results folder {results} does not exist; run `nox -s matrix` first")
    rows: list[dict[str, Any]] = []
    for path in cell_files(results):
        rows.extend(read_file(path, older))
    return rows


def _key(row: dict[str, Any]) -> tuple[str, str]:
    return (row["scenario"], row["case_id"])


def write_rows(path: Path, rows: Iterable[dict[str, Any]], order: list[tuple[str, str]]) -> None:
    """Replace the file in one atomic step: sorted keys, rows in the scenario's case order."""
    rank = {key: i for i, key in enumerate(order)}
    ordered = sorted(rows, key=lambda r: (rank.get(_key(r), len(rank)), _key(r)))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in ordered).encode("utf-8")
    if path.suffix == ".gz":
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
            gz.write(text)
        text = buf.getvalue()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
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


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on a results folder (flock on the folder itself: no lock file is left behind)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def upsert(path: Path, new: list[dict[str, Any]], order: list[tuple[str, str]]) -> None:
    """Merge rows into the cell's file, replacing rows of the same (scenario, case), under the folder's lock.

    Rows of an older schema are kept until a new row replaces them (a fresh run replaces them all).
    """
    with locked(path.parent):
        old = read_file(path, older=True) if path.exists() else []
        fresh_keys = {_key(r) for r in new}
        write_rows(path, [r for r in old if _key(r) not in fresh_keys] + new, order)
