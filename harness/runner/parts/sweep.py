"""The latency sweep's part of a run: the latency part's planning and timing (`harness.runner.timing`, rounds
interleaved across cells), over the sweep's scenario and cells, counted under its own name (`--part sweep`)."""

from __future__ import annotations

from harness.runner.parts import latency
from harness.runner.run import PlanContext, Run

NAME = "sweep"
LABEL = "latency sweep"
UNIT = "timing processes"
PRIOR_S = 120.0  # one sweep process of one cell (every shape built, checked and sampled)

Plan = latency.Plan


def plan(ctx: PlanContext) -> Plan:
    """The sweep's cells whose timings are not current (all where this machine's speed moved, or --fresh)."""
    return latency.plan(ctx, NAME)


def measure(run: Run, planned: Plan) -> None:
    """Time the planned cells, rounds interleaved (the latency part's loop)."""
    latency.measure(run, planned)
