"""Bisect a release axis: the first Keras (or TensorFlow) release at which one case's outcome changes.

The releases come from the package index (`pip index versions`, or `--releases` given by hand), final
releases only, within `--from`/`--to`, and only those the base cell's rules admit. Each probe is the base
cell with that one release swapped in. A probe whose pins equal a matrix cell reuses that cell's current
row ("from data"); a probe stored by an earlier bisect is reused too; anything else is installed with uv
into `.cache/envs/<id>` (`harness.runner.envs`) and run like any cell, its row stored under the bisect
results folder. Binary search over the ordered releases needs about log2(n) probes beyond the two ends.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import __version__
from harness.decl import toml
from harness.decl.cells import Cell, Matrix, rule_violation
from harness.decl.scenarios import Case, Scenario
from harness.errors import UserError
from harness.runner import envs
from harness.runner.cases import run_cell
from harness.runner.parts import upgrade_paths as loads
from harness.store import fresh, rowfiles

AXES = {"keras": "keras", "tensorflow": "tensorflow-cpu"}
ROOT = Path(__file__).resolve().parent.parent


def index_versions(package: str) -> list[str]:
    """Every version of the package on the index, as `pip index versions` lists them (needs the network)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", package], capture_output=True, text=True, timeout=120
    )
    for line in proc.stdout.splitlines():
        if line.startswith("Available versions:"):
            return [v.strip() for v in line.split(":", 1)[1].split(",") if v.strip()]
    detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    raise UserError(f"could not list the releases of {package} ({detail}); give them with --releases")


def probe_cell(base: Cell, axis: str, version: str, matrix: Matrix) -> Cell:
    """The base cell with one release swapped in; a matrix cell with the same pins is used as it is."""
    cell = dataclasses.replace(
        base,
        id="",
        roles=("bisect",),
        default=False,
        keras=version if axis == "keras" else base.keras,
        tensorflow=version if axis == "tensorflow" else base.tensorflow,
    )
    for known in matrix.cells:
        if known.hash == cell.hash:
            return known
    tag = f"py{cell.python}" + (f"-tf{cell.tensorflow}" if cell.tensorflow else "") + f"-keras{cell.keras}"
    tag += f"-{cell.backend}" if cell.backend != "tensorflow" else ""
    return dataclasses.replace(cell, id=f"bisect-{tag}")


def candidates(
    base: Cell, axis: str, versions: list[str], low: str | None, high: str | None, rules: dict[str, Any], matrix: Matrix
) -> tuple[list[tuple[str, Cell]], list[str]]:
    """(release, probe cell) in release order, and the releases left out with the reason."""
    from packaging.version import InvalidVersion, Version

    out, skipped = [], []
    for raw in versions:
        try:
            v = Version(raw)
        except InvalidVersion:
            continue
        if v.is_prerelease or v.is_devrelease or (low and v < Version(low)) or (high and v > Version(high)):
            continue
        cell = probe_cell(base, axis, raw, matrix)
        why = rule_violation(cell, rules)
        if why:
            skipped.append(f"{raw}: {why}")
            continue
        out.append((raw, cell))
    out.sort(key=lambda item: Version(item[0]))
    return out, skipped


@dataclasses.dataclass
class Probe:
    """One release's evidence: the row, and whether it came from data or from an install made now."""

    release: str
    cell: Cell
    row: dict[str, Any]
    source: str

    @property
    def outcome(self) -> str:
        """What the bisect compares: outcome and failing stage."""
        return "ok" if self.row["outcome"] == "ok" else f"{self.row['outcome']} at {self.row['failed_stage']}"


class Prober:
    """Finds or makes the row of one case for a probe cell."""

    def __init__(
        self,
        scen: Scenario,
        case: Case,
        results: Path,
        store_at: Path,
        machine: dict[str, Any],
        progress: Any,
        device: str = "cpu",
        saved: loads.Saved | None = None,
    ) -> None:
        self.scen, self.case = scen, case
        self.results, self.store_at = results, store_at
        self.machine, self.progress, self.device = machine, progress, device
        self.saved = saved  # an upgrade case: the saving cell's file, loaded by each probe
        self.installs = 0

    def _stored(self, folder: Path, cell: Cell) -> dict[str, Any] | None:
        part = "upgrade" if self.saved is not None else ""
        row = fresh.rows_by_case(rowfiles.cell_path(folder, self.machine["id"], cell.id, part)).get(
            (self.scen.id, self.case.case_id)
        )
        if self.saved is not None:
            return row if loads.stale_reason(row, cell, self.scen, self.saved) is None else None
        return row if row is not None and fresh.current(row, cell, self.scen) else None

    def probe(self, release: str, cell: Cell) -> Probe:
        """The case's row in this cell: stored data when current, else install and run it now."""
        for folder, source in ((self.results, "data"), (self.store_at, "earlier bisect")):
            row = self._stored(folder, cell)
            if row is not None:
                self.progress.line(f"{release}: {cell.id} from {source}")
                return Probe(release, cell, row, source)
        self.progress.line(f"{release}: installing {' '.join(cell.pins_for(self.device))} (python {cell.python})")
        interp = envs.install(cell, self.device)
        self.installs += 1
        if self.saved is not None:
            invoked = "python -m harness bisect"
            loads.run(cell, interp, self.scen, [self.saved], self.store_at, self.machine, invoked, self.progress)
        else:
            run_cell(
                cell,
                {self.scen.id: self.scen},
                [self.case],
                self.store_at,
                self.machine,
                interp,
                self.progress,
                invoked="python -m harness bisect",
            )
        row = self._stored(self.store_at, cell)
        if row is None:
            raise UserError(f"{cell.id}: the run stored no current row for {self.case.case_id}")
        return Probe(release, cell, row, "installed now")


def search(releases: list[tuple[str, Cell]], prober: Prober) -> tuple[list[Probe], tuple[Probe, Probe] | None]:
    """Binary search for the first release whose outcome differs from the oldest one's."""
    probes: dict[int, Probe] = {}

    def at(i: int) -> Probe:
        if i not in probes:
            probes[i] = prober.probe(*releases[i])
        return probes[i]

    lo, hi = 0, len(releases) - 1
    if at(lo).outcome == at(hi).outcome:
        return [probes[i] for i in sorted(probes)], None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if at(mid).outcome == at(lo).outcome:
            lo = mid
        else:
            hi = mid
    return [probes[i] for i in sorted(probes)], (probes[lo], probes[hi])


def _evidence(p: Probe) -> str:
    r = p.row
    msg = " ".join(str(r.get("error_message") or "").split())
    msg = (msg[:200] + "…") if len(msg) > 200 else msg
    detail = f" — {r.get('error_type')}: {msg}" if r["outcome"] != "ok" else ""
    return f"`{p.cell.id}` ({p.source}, {r['started_at']}): **{p.outcome}**{detail}"


def render(
    case: Case,
    axis: str,
    base: Cell,
    releases: list[tuple[str, Cell]],
    skipped: list[str],
    probes: list[Probe],
    boundary: tuple[Probe, Probe] | None,
    installs: int,
    machine_id: str,
    command: str,
) -> str:
    """The bisect as markdown: the boundary with both sides' evidence, then every probe."""
    lines = [
        f"# Bisect `{case.scenario}/{case.case_id}` over {axis}",
        "",
        f"`{command}` on `{machine_id}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, harness {__version__}.",
        f"Base: {base.summary}; {len(releases)} {axis} releases from {releases[0][0]} to {releases[-1][0]}; "
        f"{len(probes)} probed, {installs} installed now, the rest from stored rows.",
        "",
    ]
    if boundary is None:
        lines += [
            f"**No change**: {releases[0][0]} and {releases[-1][0]} give the same outcome ({probes[0].outcome}).",
            "",
        ]
    else:
        before, after = boundary
        lines += [
            f"**First {axis} release with the new outcome: {after.release}** "
            f"({before.outcome} up to {before.release}, {after.outcome} from {after.release}).",
            "",
            f"- last before: {_evidence(before)}",
            f"- first after: {_evidence(after)}",
            "",
        ]
    lines += ["Probes in release order:", ""]
    lines += [f"- {p.release}: {_evidence(p)}" for p in probes]
    if skipped:
        lines += ["", skipped_line(skipped)]
    return "\n".join(lines) + "\n"


def skipped_line(skipped: list[str]) -> str:
    """The releases the rules left out, grouped by reason."""
    by_reason: dict[str, list[str]] = {}
    for item in skipped:
        release, _, why = item.partition(": ")
        by_reason.setdefault(why.rsplit(", not ", 1)[0], []).append(release)
    parts = [
        f"{len(rels)} ({rels[0]}{f' … {rels[-1]}' if len(rels) > 1 else ''}): {why}" for why, rels in by_reason.items()
    ]
    return f"Left out by the release rules: {'; '.join(parts)}."


def rules_of(cells_file: Path) -> dict[str, Any]:
    """The [rules] table of the cells file (already validated by `cells.load`)."""
    return dict(toml.loads(cells_file.read_text(encoding="utf-8")).get("rules", {}))


# ---- latency: the first release whose timing differs from the oldest's beyond the threshold ----------------


def record(
    case: Case, axis: str, base: Cell, machine_id: str, command: str, text: str, write_up: str, **found: Any
) -> dict[str, Any]:
    """What the report and summary read of a bisect: the case, the base cell's family and the first release."""
    headline = next((line for line in text.splitlines() if line.startswith("**")), "")
    return {
        "case": f"{case.scenario}/{case.case_id}",
        "axis": axis,
        "base": {"cell": base.id, "keras_flavor": base.flavor, "backend": base.backend},
        "machine": machine_id,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command,
        "summary": headline.replace("**", ""),
        "write_up": write_up,
        **found,
    }


def outcome_found(probes: list[Probe], boundary: tuple[Probe, Probe] | None) -> dict[str, Any]:
    """An outcome bisect's result fields: the first release with the new outcome and both sides' outcomes."""
    if boundary is None:
        return {"kind": "outcome", "first_release": None, "last_before": None, "outcomes": [probes[0].outcome] * 2}
    before, after = boundary
    return {
        "kind": "outcome",
        "first_release": after.release,
        "last_before": before.release,
        "outcomes": [before.outcome, after.outcome],
    }
