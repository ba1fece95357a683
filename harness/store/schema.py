"""The result row: one per case, versioned; readers reject versions they do not know.

Version 2: rows record `measured_by` (`handler/version`, declared in `harness.decl.handlers`), and
`scenario_hash` covers the scenario's declaration only, no source file.
"""

from __future__ import annotations

from typing import Any

from harness.decl.handlers import STAGES
from harness.errors import UserError

SCHEMA_VERSION = 2
OUTCOMES = ("ok", "fail", "mismatch", "crash", "timeout", "skip")

REQUIRED: dict[str, type | tuple[type, ...]] = {
    "schema": int,
    "harness_version": str,
    "scenario": str,
    "scenario_hash": str,
    "measured_by": str,
    "cell_id": str,
    "cell_hash": str,
    "case_id": str,
    "params": dict,
    "python": str,
    "tensorflow": (str, type(None)),
    "keras": (str, type(None)),
    "keras_flavor": str,
    "backend": str,
    "device": str,
    "outcome": str,
    "failed_stage": (str, type(None)),
    "error_type": (str, type(None)),
    "error_message": (str, type(None)),
    "error_signature": (str, type(None)),
    "started_at": str,
    "duration_s": (int, float),
    "machine": dict,
}


# Version 1 rows (before declared handler versions) lack `measured_by`; only the spread of latency between
# runs reads them, to compare today's figures with an older run's.
OLDER = {1: {k: v for k, v in REQUIRED.items() if k != "measured_by"}}


def check(row: Any, where: str, older: bool = False) -> dict[str, Any]:
    """Return the row if it is a valid current-schema row (`older`: or a version-1 row), else raise UserError."""
    if not isinstance(row, dict):
        raise UserError(f"{where}: a result row must be a JSON object")
    version = row.get("schema")
    if version == SCHEMA_VERSION:
        required = REQUIRED
    else:
        required = OLDER.get(version, {}) if older and isinstance(version, int) else {}
    if not required:
        raise UserError(
            f"{where}: results schema {version!r} is not the version this harness reads ({SCHEMA_VERSION}); "
            "rerun that cell (`nox -s matrix -- --fresh --cell ID`) or read it with the harness version that wrote it"
        )
    for key, typ in required.items():
        if key not in row:
            raise UserError(f"{where}: result row lacks field {key!r}")
        if not isinstance(row[key], typ):
            raise UserError(f"{where}: field {key!r} has the wrong type ({type(row[key]).__name__})")
    if row["outcome"] not in OUTCOMES:
        raise UserError(f"{where}: outcome {row['outcome']!r} is not one of {list(OUTCOMES)}")
    if row["failed_stage"] is not None and row["failed_stage"] not in STAGES:
        raise UserError(f"{where}: failed_stage {row['failed_stage']!r} is not one of {list(STAGES)}")
    return row
