"""`bisect CASE --axis AXIS`: the first release at which a case's outcome (a latency case: its timing) changes."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from harness.commands import common
from harness.commands.triage import check_threshold
from harness.decl import caseids, scenarios
from harness.decl import cells as cells_mod
from harness.decl.scenarios import Case, Scenario
from harness.errors import UserError
from harness.runner import fingerprint
from harness.runner.progress import Progress
from harness.store import rowfiles

HELP = "the first release along an axis at which a case's outcome (or a latency case's timing) changes"
STORE = common.ROOT / "experiments" / "bisect" / "results"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The case, the axis, the range, where probes are kept."""
    common.where(p)
    p.add_argument("case", metavar="CASE", help="scenario/case_id, e.g. masking-lstm/tensor-float64:.keras")
    p.add_argument("--axis", required=True, choices=["keras", "tensorflow"], help="whose releases to walk")
    p.add_argument("--base", help="cell id or pins that fix everything else (default: see README)")
    p.add_argument("--from", dest="low", metavar="VERSION", help="oldest release to consider")
    p.add_argument("--to", dest="high", metavar="VERSION", help="newest release to consider")
    p.add_argument("--releases", help="comma-separated releases instead of asking the package index")
    p.add_argument("--store", type=Path, default=STORE, help="where probe rows are kept")
    p.add_argument("--out", type=Path, help="markdown file (default: experiments/bisect/<case>--<axis>.md)")
    p.add_argument(
        "--threshold", type=float, default=0.10, help="latency cases: smallest change that counts (default 0.10)"
    )
    p.add_argument("--rounds", type=int, default=6, help="latency cases: paired rounds per probe (default 6)")
    common.device(p)
    common.invoked(p)


def default_base(axis: str, matrix: cells_mod.Matrix) -> cells_mod.Cell:
    """Keras axis: the Keras 3 TensorFlow cell whose TensorFlow admits most Keras releases (the oldest);
    TensorFlow axis: the newest one. Both from the default `tf-default` cells."""
    from packaging.version import Version

    pool = [
        c
        for c in matrix.cells
        if c.default and "tf-default" in c.roles and c.flavor == "keras3" and c.backend == "tensorflow"
    ]
    if not pool:
        raise UserError("no default Keras 3 TensorFlow cell to bisect from; give --base")
    pool.sort(key=lambda c: Version(c.tensorflow or "0"))
    return pool[0] if axis == "keras" else pool[-1]


def _saved_file(
    upgrade: Scenario, case: Case, matrix: cells_mod.Matrix, scens: list[Scenario], results: Path, machine_id: str
) -> Any:
    """The saving cell's file an upgrade case names, from its current row (the loader axis' bisect)."""
    from harness.runner.parts import upgrade_paths as loads

    source_scen, source_case, saver_id = caseids.split_upgrade(case.case_id)
    saver = matrix.get(saver_id)
    by_id = {s.id: s for s in scens}
    if source_scen not in by_id:
        raise UserError(f"{case.case_id!r}: no scenario {source_scen!r}; upgrade cases look like SCENARIO/CASE@CELL")
    items = [i for i in loads.saved_by([saver], upgrade, by_id, results, machine_id) if i.case.case_id == source_case]
    if not items or items[0].saved is None:
        raise UserError(
            f"{saver_id} has no current row that saved a file for {source_scen}/{source_case}: "
            f"run `nox -s matrix -- --cell {saver_id}` first"
        )
    return items[0]


def main(args: argparse.Namespace) -> int:
    """Find the first release along the axis where the case's outcome changes."""
    common.need("bisect", "packaging", "numpy", "scipy")
    from harness.tools import bisect, bisect_latency

    matrix = cells_mod.load(args.cells)
    scens = scenarios.load_all(args.scenarios)
    found = [
        (s, c)
        for s in scens
        if s.handler in ("cases", "latency")
        for c in s.cases()
        if args.case in (c.case_id, caseids.key(s.id, c.case_id))
    ]
    upgrade = next((s for s in scens if s.handler == "upgrade"), None)
    if upgrade is not None and "@" in args.case:
        found = [(upgrade, Case(upgrade.id, args.case.removeprefix(f"{upgrade.id}/"), {}))]
    if len(found) != 1:
        example = next((caseids.key(s.id, c.case_id) for s in scens for c in s.cases()), "")
        what = "no case" if not found else f"{len(found)} cases"
        raise UserError(f"{what} named {args.case!r}; give scenario/case_id, e.g. {example}")
    scen, case = found[0]
    device = common.resolve_device(args.device)
    machine = fingerprint.machine(device)
    saved = _saved_file(scen, case, matrix, scens, args.results, machine["id"]) if scen.handler == "upgrade" else None
    base = cells_mod.resolve(args.base, matrix) if args.base else default_base(args.axis, matrix)
    if scen.handler != "upgrade" and not scen.applies_to(base.id, base.tags):
        raise UserError(f"scenario {scen.id} does not run on {base.id}; pick another --base")
    if args.axis == "tensorflow" and not base.tensorflow:
        raise UserError(f"{base.id} has no tensorflow pin to vary")
    package = bisect.AXES[args.axis]
    versions = [v.strip() for v in args.releases.split(",")] if args.releases else bisect.index_versions(package)
    releases, skipped = bisect.candidates(
        base, args.axis, versions, args.low, args.high, bisect.rules_of(args.cells), matrix
    )
    if len(releases) < 2:
        raise UserError(f"{len(releases)} {package} release(s) to bisect between {args.low} and {args.high}; need 2")
    if scen.timed:
        check_threshold(args.threshold)
        if args.rounds < 6:
            raise UserError(
                f"--rounds must be at least 6 (the rank test cannot reach p < 0.05 with fewer), got {args.rounds}"
            )
    progress = Progress("[bisect]", time.time())
    progress.line(
        f"{case.case_id}: {len(releases)} {package} releases on {base.id}, {releases[0][0]}..{releases[-1][0]}"
    )
    command = args.invoked_by or f"python -m harness bisect {args.case} --axis {args.axis}"
    slug = f"{scen.id}-{case.case_id}".replace(":", "-").replace("/", "-")
    out = args.out or common.ROOT / "experiments" / "bisect" / f"{slug}--{args.axis}.md"
    if scen.timed:
        timer = bisect_latency.LatencyProber(scen, case, args.rounds, args.threshold, progress, device)
        result = bisect_latency.search_latency(releases, timer)
        text = bisect_latency.render_latency(
            case, args.axis, base, releases, skipped, result, timer, machine["id"], command
        )
        result_fields = bisect_latency.latency_found(result, args.threshold)
    else:
        prober = bisect.Prober(scen, case, args.results, args.store, machine, progress, device, saved)
        probes, boundary = bisect.search(releases, prober)
        text = bisect.render(
            case, args.axis, base, releases, skipped, probes, boundary, prober.installs, machine["id"], command
        )
        result_fields = bisect.outcome_found(probes, boundary)
    # The record beside the write-up is what the report reads (its Answers and the summary's first releases).
    record = bisect.record(case, args.axis, base, machine["id"], command, text, out.name, **result_fields)
    rowfiles.write_text(out.with_suffix(".json"), json.dumps(record, indent=1))
    rowfiles.write_text(out, text)
    print(text)
    print(f"wrote {out}")
    return 0
