"""Triage an upgrade between two cells: cases that break or get fixed, and latency changes that are real.

Outcomes come from the stored rows of both cells (`nox -s triage` runs a cell first when its rows are
missing or stale). Latency is measured afresh, paired: one timing process of FROM and one of TO per round,
back to back, order alternating, so slow phases of the machine fall on both. Per round and case the two
processes' reference-corrected medians give one log ratio; a change counts when a Wilcoxon signed-rank
test and a bootstrap 95% CI of the mean log ratio both exclude zero and the ratio passes the threshold
(asv's `factor`): `slower` / `faster`. Past the threshold without significance: `uncertain`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness import __version__, signature
from harness.decl import caseids, scenarios
from harness.decl.cells import Cell
from harness.decl.scenarios import Scenario
from harness.errors import UserError
from harness.runner import fingerprint, timing
from harness.store import fresh, rowfiles

DEFAULT_LATENCY_CASES = ["*:predict_on_batch", "lstm:floor:direct"]  # the eager `call` case costs seconds a sample
ALPHA = 0.05


def current_rows(
    results: Path, machine_id: str, cell: Cell, scens: list[Scenario]
) -> dict[tuple[str, str], dict[str, Any]]:
    """(scenario, case) -> the cell's current row on this machine; missing or stale rows raise UserError."""
    path = rowfiles.cell_path(results, machine_id, cell.id)
    rows = fresh.rows_by_case(path)
    by_id = {s.id: s for s in scens}
    wanted = [
        (s.id, c.case_id) for s in scens if s.handler == "cases" and s.applies_to(cell.id, cell.tags) for c in s.cases()
    ]
    bad = [k for k in wanted if k not in rows or not fresh.current(rows[k], cell, by_id[k[0]])]
    if bad:
        raise UserError(
            f"{cell.id}: {len(bad)} of {len(wanted)} cases have no current row in {path}; "
            f"run `nox -s matrix -- --cell {cell.id}` (or `nox -s triage`, which does)"
        )
    return {k: rows[k] for k in wanted}


def upgrade_rows(
    results: Path, machine_id: str, loader: Cell, saver: Cell, scens: list[Scenario]
) -> list[dict[str, Any]]:
    """The loading cell's current upgrade rows of files the saving cell saved."""
    rows = fresh.rows_by_case(rowfiles.cell_path(results, machine_id, loader.id, "upgrade")).values()
    by_id = {s.id: s for s in scens if s.handler == "upgrade"}
    return [
        row
        for row in rows
        if row["scenario"] in by_id
        and row["params"].get("saved_by") == saver.id
        and fresh.current(row, loader, by_id[row["scenario"]], saver)
    ]


def _label(row: dict[str, Any] | None) -> str:
    if row is None:
        return "not run"
    if row["outcome"] == "ok":
        return "ok"
    return f"{row['outcome']} at {row['failed_stage']}"


def outcome_diff(a: dict[tuple[str, str], dict[str, Any]], b: dict[tuple[str, str], dict[str, Any]]) -> pd.DataFrame:
    """Cases whose outcome differs: `breaks` (ok -> not ok), `fixed`, `error changed`, or only in one cell."""
    records = []
    for key in sorted(set(a) | set(b)):
        ra, rb = a.get(key), b.get(key)
        if ra is None or rb is None:
            change = "only in FROM" if rb is None else "only in TO"
        elif ra["outcome"] == "ok" and rb["outcome"] != "ok":
            change = "breaks"
        elif ra["outcome"] != "ok" and rb["outcome"] == "ok":
            change = "fixed"
        elif ra["outcome"] != "ok" and signature.of_row(ra) != signature.of_row(rb):
            change = "error changed"
        else:
            continue
        records.append(
            {
                "scenario": key[0],
                "case": key[1],
                "change": change,
                "from": _label(ra),
                "to": _label(rb),
                "to_error": (rb or {}).get("error_message") or "",
                "from_error": (ra or {}).get("error_message") or "",
            }
        )
    return pd.DataFrame(records, columns=["scenario", "case", "change", "from", "to", "to_error", "from_error"])


@dataclass
class Paired:
    """Per case, the reference-corrected medians of FROM's and TO's processes, round by round."""

    rounds: int
    values: dict[str, list[tuple[float, float]]]
    lost: list[str]
    python: tuple[str, str]


def _process_values(target: Any, rounds: int) -> tuple[dict[int, dict[str, float]], list[float]]:
    """Per round: case -> median of sample / reference; and each process's reference median (seconds).

    A lost process adds no samples, so the stored lists skip its round; the lost rounds put them back in place.
    """
    import numpy as np

    lost = {x["round"] for x in target.lost}
    done = [r for r in range(1, rounds + 1) if r not in lost]
    per: dict[int, dict[str, float]] = {r: {} for r in done}
    speed: list[float] = []
    for cid, procs in target.samples.items():
        for r, s, ref in zip(done, procs, target.refs.get(cid, []), strict=False):
            if s and len(ref) == len(s):
                per[r][cid] = float(np.median(np.asarray(s) / np.asarray(ref)))
                speed.append(float(np.median(ref)))
    return per, speed


def measure_pairs(targets: tuple[Any, Any], scen: Scenario, rounds: int, progress: Any) -> Paired:
    """`rounds` rounds of one FROM and one TO timing process, back to back, order alternating."""
    a, b = targets
    for r in range(1, rounds + 1):
        for label, target in (("FROM", a), ("TO", b)) if r % 2 else (("TO", b), ("FROM", a)):
            t0 = time.time()
            before = len(target.lost)
            ticks = fingerprint.cpu_ticks()
            timing.one_process(target, scen, r)
            steal = fingerprint.steal_fraction(ticks, fingerprint.cpu_ticks())
            target.steal.append(steal)
            state = "lost" if len(target.lost) > before else "ok"
            stolen = f", {steal:.0%} CPU stolen" if steal and steal >= 0.005 else ""
            progress.line(f"round {r}/{rounds} {label:<4} {target.cell.id} ({time.time() - t0:.0f}s, {state}{stolen})")
    pa, sa = _process_values(a, rounds)
    pb, sb = _process_values(b, rounds)
    # Corrected values: ratio x that interpreter's fastest reference speed in this run (same Python: cancels).
    fast_a, fast_b = min(sa, default=math.inf), min(sb, default=math.inf)
    py_a, py_b = str(a.ready.get("python", "")), str(b.ready.get("python", ""))
    if py_a.split(".")[:2] == py_b.split(".")[:2]:
        fast_a = fast_b = min(fast_a, fast_b)
    values: dict[str, list[tuple[float, float]]] = {}
    for case in a.cases:
        cid = case.case_id
        values[cid] = [
            (pa[r][cid] * fast_a, pb[r][cid] * fast_b)
            for r in range(1, rounds + 1)
            if cid in pa.get(r, {}) and cid in pb.get(r, {})
        ]
    lost = [f"FROM round {x['round']}: {x['outcome']}" for x in a.lost] + [
        f"TO round {x['round']}: {x['outcome']}" for x in b.lost
    ]
    return Paired(rounds, values, lost, (py_a, py_b))


def verdict(pairs: list[tuple[float, float]], threshold: float) -> dict[str, Any]:
    """Change TO/FROM of one case from paired values: estimate, 95% CI, p-value and the verdict."""
    import numpy as np
    from scipy import stats

    d = np.log([b / a for a, b in pairs])
    out: dict[str, Any] = {"pairs": len(d), "from_ms": None, "to_ms": None}
    if len(d) == 0:
        return {**out, "change": None, "ci": [None, None], "p": None, "verdict": "not measured"}
    out["from_ms"] = float(np.median([a for a, _ in pairs])) * 1e3
    out["to_ms"] = float(np.median([b for _, b in pairs])) * 1e3
    est = float(np.mean(d))
    if len(d) >= 3 and float(np.ptp(d)) > 0:
        ci = stats.bootstrap((d,), np.mean, confidence_level=0.95, n_resamples=9999, method="percentile", rng=0)
        low, high = float(ci.confidence_interval.low), float(ci.confidence_interval.high)
        p = float(stats.wilcoxon(d).pvalue)
    else:
        low, high, p = est, est, 1.0
    significant = p < ALPHA and (low > 0 or high < 0)
    beyond = abs(est) >= math.log1p(threshold)
    if beyond and significant:
        word = "slower" if est > 0 else "faster"
    elif beyond:
        word = "uncertain"
    else:
        word = "unchanged"
    return {**out, "change": math.expm1(est), "ci": [math.expm1(low), math.expm1(high)], "p": p, "verdict": word}


def latency_table(paired: Paired, threshold: float) -> pd.DataFrame:
    """One verdict per timed case."""
    records = [{"case": cid, **verdict(pairs, threshold)} for cid, pairs in paired.values.items()]
    return pd.DataFrame(records)


UPGRADE_COLUMNS = ["case", "change", "in FROM", "in TO", "error"]


def upgrade_diff(
    a_rows: dict[tuple[str, str], dict[str, Any]], b_upgrade: list[dict[str, Any]], a: Cell
) -> pd.DataFrame:
    """Files FROM saved, loaded by TO: `breaks on upgrade` (FROM's own load of the file was ok, TO's is not),
    `fixed on upgrade`, `fails in both`, `ok` — TO's upgrade rows against FROM's own compatibility rows."""
    records = []
    for row in b_upgrade:
        if row["params"]["saved_by"] != a.id or row["failed_stage"] == "source":
            continue  # a case FROM could not save has no file to carry
        scen_id, case_id, _ = caseids.split_upgrade(row["case_id"])
        own = a_rows.get((scen_id, case_id))
        was_ok, now_ok = own is not None and own["outcome"] == "ok", row["outcome"] == "ok"
        change = (
            "ok"
            if was_ok and now_ok
            else "breaks on upgrade"
            if was_ok
            else "fixed on upgrade"
            if now_ok
            else "fails in both"
        )
        records.append(
            {
                "case": row["params"]["source"],
                "change": change,
                "in FROM": _label(own),
                "in TO": _label(row),
                "error": row.get("error_message") or "",
            }
        )
    return pd.DataFrame(records, columns=UPGRADE_COLUMNS)


def exit_code(diff: pd.DataFrame, latency: pd.DataFrame | None, upgrade: pd.DataFrame | None = None) -> int:
    """1 when a case breaks, a file FROM saved does not load and predict the same in TO, or latency gets slower."""
    broke = bool((diff["change"] == "breaks").any()) if not diff.empty else False
    slower = bool((latency["verdict"] == "slower").any()) if latency is not None and not latency.empty else False
    carried = upgrade is not None and not upgrade.empty and bool((upgrade["change"] == "breaks on upgrade").any())
    return 1 if broke or slower or carried else 0


HEADINGS = {
    "breaks": "Cases that break",
    "fixed": "Cases that get fixed",
    "error changed": "Cases that fail with another error",
    "only in FROM": "Cases only FROM runs",
    "only in TO": "Cases only TO runs",
}


def _short(message: str, width: int = 110) -> str:
    """An error message on one table line."""
    flat = " ".join(message.split()).replace("|", "\\|")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _pct(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.1%}"


def render(
    a: Cell,
    b: Cell,
    diff: pd.DataFrame,
    latency: pd.DataFrame | None,
    paired: Paired | None,
    threshold: float,
    machine_id: str,
    command: str,
    upgrade: pd.DataFrame | None = None,
) -> str:
    """The triage as markdown: summary line, outcome changes by kind, FROM's files in TO, latency verdicts."""
    counts = diff["change"].value_counts().to_dict() if not diff.empty else {}
    lat_counts = latency["verdict"].value_counts().to_dict() if latency is not None and not latency.empty else {}
    up_counts = upgrade["change"].value_counts().to_dict() if upgrade is not None and not upgrade.empty else {}
    code = exit_code(diff, latency, upgrade)
    lines = [
        f"# Triage: `{a.id}` → `{b.id}`",
        "",
        f"`{command}` on `{machine_id}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, harness {__version__}.",
        f"FROM: {a.summary}. TO: {b.summary}.",
        "",
        f"**{'REGRESSION' if code else 'no regression'}** — outcomes: "
        + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no case changes")
        + "; FROM's files in TO: "
        + (", ".join(f"{n} {k}" for k, n in sorted(up_counts.items())) if up_counts else "not measured")
        + "; latency: "
        + (", ".join(f"{n} {k}" for k, n in sorted(lat_counts.items())) if lat_counts else "not measured")
        + f". Exit code {code}.",
        "",
    ]
    for kind, title in HEADINGS.items():
        sub = diff[diff["change"] == kind] if not diff.empty else diff
        if sub.empty:
            continue
        lines += [f"## {title} ({len(sub)})", ""]
        show = sub[["scenario", "case", "from", "to"]].copy()
        err_col = "to_error" if kind != "fixed" else "from_error"
        show["error" if kind != "fixed" else "error before"] = sub[err_col].map(_short)
        lines += [str(show.to_markdown(index=False)), ""]
    if upgrade is not None and not upgrade.empty:
        lines += [
            f"## Files saved by FROM, loaded by TO ({len(upgrade)})",
            "",
            "Each file FROM saved in its cases, loaded by TO the way its route prescribes, predicted and compared with "
            "FROM's own outputs. `breaks on upgrade`: FROM loads its own file and gets the same outputs, TO does not.",
            "",
        ]
        for kind in ("breaks on upgrade", "fixed on upgrade", "fails in both"):
            sub = upgrade[upgrade["change"] == kind]
            if sub.empty:
                continue
            show = sub[["case", "in FROM", "in TO"]].copy()
            show["error in TO"] = sub["error"].map(_short)
            lines += [f"{kind.capitalize()} ({len(sub)}):", "", str(show.to_markdown(index=False)), ""]
        ok = int((upgrade["change"] == "ok").sum())
        lines += [f"Load and predict the same in both: {ok}.", ""]
    if latency is not None and paired is not None:
        lines += [
            f"## Latency ({paired.rounds} paired rounds, threshold {threshold:.0%})",
            "",
            "Milliseconds per batch: median over rounds of each process's median of sample / in-process reference, "
            "in ms at the reference's fastest speed in this run. Change: geometric mean of the per-round TO/FROM "
            "ratios, bootstrap 95% CI, Wilcoxon signed-rank p. `slower`/`faster`: significant (p < 0.05 and the CI "
            f"excludes 0) and at least {threshold:.0%}; `uncertain`: past {threshold:.0%} but not significant.",
            "",
        ]
        show = pd.DataFrame(
            {
                "case": latency["case"],
                "FROM ms": latency["from_ms"].map(lambda v: "—" if pd.isna(v) else f"{v:.3g}"),
                "TO ms": latency["to_ms"].map(lambda v: "—" if pd.isna(v) else f"{v:.3g}"),
                "change": latency["change"].map(_pct),
                "95% CI": [f"{_pct(lo)} … {_pct(hi)}" for lo, hi in latency["ci"]],
                "p": latency["p"].map(lambda v: "—" if pd.isna(v) else f"{v:.3f}"),
                "pairs": latency["pairs"],
                "verdict": latency["verdict"],
            }
        )
        lines += [str(show.to_markdown(index=False)), ""]
        if paired.lost:
            lines += [f"Processes that gave no samples: {'; '.join(paired.lost)}.", ""]
    return "\n".join(lines)


def save(path: Path, markdown: str, data: dict[str, Any]) -> None:
    """The markdown and, beside it, the paired values as JSON (atomic writes)."""
    rowfiles.write_text(path, markdown)
    rowfiles.write_text(path.with_suffix(".json"), json.dumps(data, indent=1, sort_keys=True))


def select_latency(scen: Scenario, patterns: list[str] | None) -> list[scenarios.Case]:
    """The latency cases the triage times (default: all predict_on_batch cases and the floor)."""
    return [c for c in scen.cases() if scenarios.matches(c, patterns or DEFAULT_LATENCY_CASES)]
