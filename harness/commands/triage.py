"""`triage FROM TO`: cases that break or get fixed, and latency changes that are real; exit 1 on a regression."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.commands import common
from harness.decl import cells as cells_mod
from harness.decl import scenarios
from harness.errors import UserError
from harness.runner import envs, fingerprint
from harness.runner.matrix import interpreters, make_plan, measure
from harness.runner.progress import Progress
from harness.runner.run import Options, Run

HELP = "FROM -> TO: cases that break or get fixed, significant latency changes (exit 1 regression, 2 bad input)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The two cells, and how latency is compared."""
    common.where(p)
    p.add_argument("source", metavar="FROM", help="cell id or pins, e.g. tf=2.15.1 or tf=2.17.1,keras=3.8.0")
    p.add_argument("target", metavar="TO", help="cell id or pins")
    p.add_argument("--threshold", type=float, default=0.10, help="smallest latency change that counts (default 0.10)")
    p.add_argument("--rounds", type=int, default=6, help="paired timing rounds (default 6; at least 3)")
    p.add_argument(
        "--case",
        action="append",
        metavar="GLOB",
        help="latency cases to time (default: *:predict_on_batch and the floor)",
    )
    p.add_argument("--no-latency", action="store_true", help="compare outcomes only (no timing)")
    p.add_argument("--out", type=Path, help="markdown file (default: triage/FROM__TO.md; the paired values beside it)")
    common.device(p)
    common.invoked(p)


def check_threshold(threshold: float) -> None:
    """A latency threshold is a fraction (0.10 = 10%), as triage and bisect take it."""
    if not 0 < threshold < 10:
        raise UserError(f"--threshold must be a fraction such as 0.10, got {threshold}")


def main(args: argparse.Namespace) -> int:
    """Run the cells that lack current rows, compare outcomes, time latency paired; exit 1 on a regression."""
    common.need("triage", "pandas", "scipy", "tabulate", "packaging")
    from harness.runner import timing
    from harness.tools import triage

    check_threshold(args.threshold)
    if args.rounds < 3:
        raise UserError(f"--rounds must be at least 3 (a paired test needs them), got {args.rounds}")
    matrix = cells_mod.load(args.cells)
    a, b = cells_mod.resolve(args.source, matrix), cells_mod.resolve(args.target, matrix)
    scens = scenarios.load_all(args.scenarios)
    timed = [s for s in scens if s.timed]
    if args.case and timed:
        scenarios.select(timed[:1], args.case)  # an unknown pattern is an error before anything runs
    device = common.resolve_device(args.device)
    machine = fingerprint.machine(device)
    command = args.invoked_by or common.command_line()
    opts = Options(device=device, invoked=command, parts=("compat", "upgrade"), jobs=2, savers=(a.id,))
    pair = list(dict.fromkeys((a, b)))
    all_cells = {c.id: c for c in matrix.cells}
    plan = make_plan(pair, all_cells, scens, args.results, machine["id"], opts)
    progress = Progress("[triage]", time.time())
    for _, cell, todo in plan.parts["compat"].todo:
        progress.line(f"{cell.id}: {len(todo)} cases have no current row here; running them first")
    with interpreters(opts, pair) as resolve:
        run = Run(pair, {s.id: s for s in scens}, all_cells, args.results, machine, resolve, progress, opts)
        measure(run, plan)  # the cases first, then the files FROM saved loaded by TO
    a_rows = triage.current_rows(args.results, machine["id"], a, scens)
    diff = triage.outcome_diff(a_rows, triage.current_rows(args.results, machine["id"], b, scens))
    upgrade = triage.upgrade_diff(a_rows, triage.upgrade_rows(args.results, machine["id"], b, a, scens), a)
    latency = paired = None
    if not args.no_latency and timed:
        scen = timed[0]
        cases = triage.select_latency(scen, args.case)
        targets = []
        for cell in (a, b):
            interp = envs.install(cell, device, check=True)
            problems = envs.problems(cell, interp)
            if problems:
                raise UserError(f"{cell.id}: its environment lacks its pins: {problems[0]}")
            targets.append(timing.Target(cell, interp, cases))
        progress.line(f"latency: {len(cases)} cases, {args.rounds} rounds of {a.id} and {b.id}, paired")
        paired = triage.measure_pairs((targets[0], targets[1]), scen, args.rounds, progress)
        latency = triage.latency_table(paired, args.threshold)
    text = triage.render(a, b, diff, latency, paired, args.threshold, machine["id"], command, upgrade)
    out = args.out or Path("triage") / f"{a.id}__{b.id}.md"
    data = {
        "from": a.id,
        "to": b.id,
        "threshold": args.threshold,
        "outcomes": diff.to_dict(orient="records"),
        "upgrade": upgrade.to_dict(orient="records"),
        "latency": latency.to_dict(orient="records") if latency is not None else None,
        "pairs": paired.values if paired else None,
        "python": list(paired.python) if paired else None,
    }
    triage.save(out, text, data)
    print(text)
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return triage.exit_code(diff, latency, upgrade)
