"""results/summary.json: the report's answers as data, for scripts and the site (results/summary.schema.json)."""

from __future__ import annotations

import itertools
from typing import Any

import harness
from harness import signature
from harness.decl import caseids
from harness.decl import causes as catalog
from harness.decl.cells import Cell, Matrix
from harness.decl.scenarios import Scenario
from harness.readers import bisects, causes, sections
from harness.readers.model import Entry, View, cell_order, entries, group_of, machine_views, reproduce, version_label
from harness.readers.sections import upgrade_paths

SUMMARY_VERSION = 4  # 2: failing entries name their cause; per machine, the causes counted; 3: the shim route,
# a fix per failing file, readable kinds of file, the cause catalog; 4: the latency sweep's points (`sweep`)
BAD = ("fail", "mismatch", "crash", "timeout")


def transition(statuses: list[tuple[str, Cell]]) -> dict[str, Any]:
    """A family's entries in version order, told as: ok everywhere, fails everywhere, fixed, broken or mixed."""
    seen = [(s, c) for s, c in statuses if s == "ok" or s in BAD]
    if not seen:
        return {"verdict": "not measured", "first_bad": None, "first_good": None}
    runs = [(good, [c for _, c in grp]) for good, grp in itertools.groupby(seen, key=lambda sc: sc[0] == "ok")]
    first_bad = next((cells[0] for good, cells in runs if not good), None)
    if len(runs) == 1:
        verdict = "ok everywhere" if runs[0][0] else "fails everywhere"
        return {"verdict": verdict, "first_bad": version_label(first_bad) if first_bad else None, "first_good": None}
    if len(runs) == 2:
        verdict = "fixed" if not runs[0][0] else "broken"
        first_good = runs[1][1][0] if verdict == "fixed" else None
    else:
        verdict, first_good = "mixed", None
    return {
        "verdict": verdict,
        "first_bad": version_label(first_bad) if first_bad else None,
        "first_good": version_label(first_good) if first_good else None,
    }


def _cells(matrix: Matrix) -> dict[str, Any]:
    order = {c.id: i for i, c in enumerate(sorted(matrix.cells, key=cell_order))}
    return {
        c.id: {
            "tensorflow": c.tensorflow,
            "keras": c.keras,
            "tf_keras": c.tf_keras,
            "keras_flavor": c.flavor,
            "backend": c.backend,
            "python": c.python,
            "family": group_of(c),
            "label": version_label(c),
            "order": order[c.id],
        }
        for c in matrix.cells
    }


def _verdict(mid: str, cell_id: str, key: str, e: Entry) -> dict[str, Any]:
    row = e.row or {}
    return {
        "machine": mid,
        "cell_id": cell_id,
        "case": key,
        "outcome": e.status,
        "failed_stage": e.stage,
        "error_type": row.get("error_type"),
        "error_signature": signature.of_row(row),
        "cause": e.cause,
        "measured_at": row.get("started_at"),
        "measured_by": row.get("measured_by"),
        "harness_version": row.get("harness_version"),
        "harness_commit": row.get("harness_commit"),
        "packages": {str(k): str(v) for k, v in (row.get("packages") or {}).items()},
        "reproduce": reproduce(cell_id, key, row or None),
    }


def build(
    rows: list[dict[str, Any]],
    matrix: Matrix,
    scens: list[Scenario],
    records: list[dict[str, Any]],
    command: str,
    commit: str | None,
) -> dict[str, Any]:
    """The summary of every machine's current rows, bisect records and upgrade paths."""
    compat = [s for s in scens if sections.of(s).GRID]
    listed = compat + [s for s in scens if not sections.of(s).GRID and sections.of(s).LISTED]
    others = [s for s in scens if not sections.of(s).GRID]
    apart = {s.id for s in scens if sections.of(s).APART}
    out: dict[str, Any] = {
        "schema_version": SUMMARY_VERSION,
        "generated": {
            "at": max((str(r["started_at"]) for r in rows), default=None),
            "command": command,
            "harness_version": harness.__version__,
            "commit": commit,
        },
        "cells": _cells(matrix),
        "cases": {
            caseids.key(s.id, c.case_id): {
                "scenario": s.id,
                "case_id": c.case_id,
                "scenario_title": s.title,
                "params": dict(c.params),
            }
            for s in listed
            for c in s.cases()
        },
        "machines": [],
        "verdicts": [],
        "transitions": [],
        "bisects": [
            {
                k: v
                for k, v in r.items()
                if k
                in ("case", "axis", "kind", "first_release", "last_before", "summary", "write_up", "change", "ci", "p")
            }
            for r in records
        ],
        "upgrade": {"sources": [], "pairs": []},
        "latency": [],
        "sweep": [],
        "causes": [],
    }
    sources: dict[str, int] = {}
    for mid, mrows, shown in machine_views(rows, matrix):
        plain = [r for r in mrows if r["scenario"] not in apart]
        started = sorted(r["started_at"] for r in plain) or [None]
        out["machines"].append(
            {
                "id": mid,
                "description": _describe(plain[0]["machine"]) if plain else mid,
                "measured_from": started[0],
                "measured_to": started[-1],
                "commands": sorted({r.get("invoked_by", "") for r in plain} - {""}),
            }
        )
        ran = {r["scenario"] for r in plain}
        grid = entries(plain, shown, [s for s in compat if s.id in ran])
        out["verdicts"] += [_verdict(mid, cid, key, e) for (cid, key), e in grid.items()]
        ordered = sorted(shown.cells, key=cell_order)
        for scen in (s for s in compat if s.id in ran):
            for case in scen.cases():
                key = caseids.key(scen.id, case.case_id)
                for family, cells in itertools.groupby(ordered, key=group_of):
                    statuses = [(grid[(c.id, key)].status, c) for c in cells if (c.id, key) in grid]
                    if not statuses:
                        continue
                    first = statuses[0][1]
                    rec = bisects.fixed_in(records, key, first.flavor, first.backend)
                    out["transitions"].append(
                        {
                            "machine": mid,
                            "case": key,
                            "family": family,
                            **transition(statuses),
                            "fixed_in": rec["first_release"] if rec else None,
                        }
                    )
        table = causes.table(mrows, shown, scens)
        known, failing = causes.explained(table)
        by_cause = {str(c["cause"]): int(c["rows"]) for c in table.to_dict("records")}
        out["causes"].append({"machine": mid, "failing_rows": failing, "explained_rows": known, "by_cause": by_cause})
        view = View(mid, mrows, plain, shown, grid, ran, scens)
        for scen in others:  # the kinds without entries add their own part (upgrade pairs, latency)
            sections.of(scen).summarize(out, view, scen, sources)
    out["upgrade"]["sources"] = list(sources)
    out["upgrade"]["kinds"] = [upgrade_paths.file_kind(s) for s in sources]
    out["cause_catalog"] = {c.id: {"sentence": c.sentence, "upstream": c.upstream} for c in catalog.load()}
    return out


def _describe(m: dict[str, Any]) -> str:
    return f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']} ({m['arch']})" + (
        f", {m['gpu']}" if m.get("gpu") else ""
    )
