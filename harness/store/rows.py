"""A result row for one case, made in one place for every handler (cases, latency, cross-load)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import harness
from harness import provenance, signature
from harness.decl.cells import Cell
from harness.decl.scenarios import Case, Scenario
from harness.store import schema

# The fields a child's answer gives about a failure, carried into the row as they are.
ERROR_KEYS = ("failed_stage", "error_type", "error_message", "error_cause_type", "error_cause_message")


def make_row(
    cell: Cell,
    scen: Scenario,
    case: Case,
    ready: dict[str, Any],
    machine: dict[str, Any],
    invoked_by: str,
    outcome: str,
    started: float,
    duration: float,
    **fields: Any,
) -> dict[str, Any]:
    """A complete result row; `ready` is the child's ready (or import failure) message, `fields` the rest."""
    versions = ready.get("versions", {})
    tf_version = versions.get("tensorflow-cpu") or versions.get("tensorflow")
    keras_version = versions.get("tf-keras") if cell.flavor == "tf_keras" else versions.get("keras")
    err_type, err_msg = fields.pop("error_type", None), fields.pop("error_message", None)
    cause_type, cause_msg = fields.pop("error_cause_type", None), fields.pop("error_cause_message", None)
    stage = fields.pop("failed_stage", None)
    return {
        "schema": schema.SCHEMA_VERSION,
        "harness_version": harness.__version__,
        "harness_commit": provenance.commit(),
        "measured_by": scen.measured_by,
        "scenario": case.scenario,
        "scenario_hash": scen.hash,
        "cell_id": cell.id,
        "cell_hash": cell.hash,
        "case_id": case.case_id,
        "params": case.params,
        **case.params,
        "python": ready.get("python", cell.python),
        "tensorflow": tf_version if versions else cell.tensorflow,
        "keras": keras_version if versions else (cell.tf_keras or cell.keras),
        "keras_flavor": cell.flavor,
        "backend": cell.backend,
        "device": ready.get("device", "unknown"),
        "outcome": outcome,
        "failed_stage": stage,
        "error_type": err_type,
        "error_message": err_msg,
        "error_cause_type": cause_type,
        "error_cause_message": cause_msg,
        "error_signature": signature.signature(stage, err_type, err_msg, cause_type, cause_msg)
        if outcome != "ok"
        else None,
        "started_at": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds"),
        "duration_s": round(duration, 3),
        "machine": machine,
        "packages": versions,
        "invoked_by": invoked_by,
        **fields,
    }
