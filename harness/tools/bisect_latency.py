"""Bisect a latency case along a release axis: the first release at which it gets significantly slower or faster.

Each probe is timed paired against the base release (`harness.runner.timing`, rounds interleaved), and the
search halves the range between the last release that times like the base and the first that does not,
about log2(n) + 2 timings for n releases. The write-up keeps every timing made, and says where a probe
could not be installed.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from harness import __version__
from harness.decl.cells import Cell
from harness.decl.scenarios import Case, Scenario
from harness.errors import UserError
from harness.runner import envs, timing
from harness.runner.envs import Interpreter
from harness.tools.bisect import skipped_line


@dataclasses.dataclass
class Timing:
    """One probe's paired timing against the oldest release: the verdict and the per-round values (seconds)."""

    release: str
    cell: Cell
    against: str
    verdict: dict[str, Any]
    pairs: list[tuple[float, float]]
    lost: list[str]

    @property
    def word(self) -> str:
        """`slower`, `faster`, `unchanged`, `uncertain` or `not measured` (see `triage.verdict`)."""
        return str(self.verdict["verdict"])


class LatencyProber:
    """Times one latency case in two cells, paired and interleaved, as `harness triage` does for a whole cell."""

    def __init__(
        self, scen: Scenario, case: Case, rounds: int, threshold: float, progress: Any, device: str = "cpu"
    ) -> None:
        self.scen, self.case = scen, case
        self.rounds, self.threshold = rounds, threshold
        self.progress, self.device = progress, device
        self.installs = 0
        self.checked: dict[str, Interpreter] = {}

    def interpreter(self, cell: Cell) -> Interpreter:
        """The cell's uv environment (installed now if it lacks its pins), checked once per bisect."""
        if cell.id in self.checked:
            return self.checked[cell.id]  # the base cell is timed with every probe
        if not envs.installed(cell, self.device):
            self.progress.line(f"{cell.id}: installing {' '.join(cell.pins_for(self.device))} (python {cell.python})")
            self.installs += 1
        interp = envs.install(cell, self.device, check=True)
        problems = envs.problems(cell, interp)
        if problems:
            raise UserError(f"{cell.id}: cannot time it, its environment lacks a pin: {problems[0]}")
        self.checked[cell.id] = interp
        return interp

    def compare(self, base: tuple[str, Cell], probe: tuple[str, Cell]) -> Timing:
        """`rounds` rounds of one process per cell, back to back, order alternating; the change probe/base."""
        from harness.tools import triage

        (base_release, base_cell), (release, cell) = base, probe
        try:
            targets = (
                timing.Target(base_cell, self.interpreter(base_cell), [self.case]),
                timing.Target(cell, self.interpreter(cell), [self.case]),
            )
        except UserError as exc:  # an install that failed: the search stops here and keeps what it measured
            self.progress.line(f"{release} against {base_release}: not timed: {exc}")
            return Timing(release, cell, base_release, triage.verdict([], self.threshold), [], [str(exc)])
        self.progress.line(f"{release} against {base_release}: {self.rounds} paired rounds")
        paired = triage.measure_pairs(targets, self.scen, self.rounds, self.progress)
        pairs = paired.values.get(self.case.case_id, [])
        found = Timing(release, cell, base_release, triage.verdict(pairs, self.threshold), pairs, paired.lost)
        self.progress.line(f"{release} against {base_release}: {_change(found)}")
        return found


@dataclasses.dataclass
class LatencyBisect:
    """The probes, the boundary (last unchanged or None for the oldest, first changed), the direct timing
    across it, and why the search stopped early ('' when it did not)."""

    timings: list[Timing]
    boundary: tuple[Timing | None, Timing] | None
    step: Timing | None
    stopped: str


def search_latency(releases: list[tuple[str, Cell]], prober: LatencyProber) -> LatencyBisect:
    """Binary search for the first release significantly slower (or faster) than the oldest, past the threshold.

    The newest release sets the direction; a probe counts as changed when its verdict against the oldest is
    that direction.
    """
    oldest = releases[0]
    timed: dict[int, Timing] = {}

    def at(i: int) -> Timing:
        if i not in timed:
            timed[i] = prober.compare(oldest, releases[i])
        return timed[i]

    def done(boundary: tuple[Timing | None, Timing] | None, step: Timing | None, why: str) -> LatencyBisect:
        return LatencyBisect([timed[i] for i in sorted(timed)], boundary, step, why)

    lo, hi = 0, len(releases) - 1
    direction = at(hi).word
    if direction == "not measured":
        return done(None, None, f"{releases[hi][0]} could not be timed ({_lost(at(hi))})")
    if direction not in ("slower", "faster"):
        return done(None, None, "")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if at(mid).word == "not measured":
            return done(None, None, f"{releases[mid][0]} could not be timed ({_lost(at(mid))})")
        if at(mid).word == direction:
            hi = mid
        else:
            lo = mid
    before = timed.get(lo)
    step = timed[hi] if lo == 0 else prober.compare(releases[lo], releases[hi])
    return done((before, timed[hi]), step, "")


def _lost(t: Timing) -> str:
    return "; ".join(t.lost) or "no samples"


def _change(t: Timing) -> str:
    v = t.verdict
    if v["change"] is None:
        return f"**not measured** ({_lost(t)})"
    low, high = v["ci"]
    return (
        f"{v['change']:+.1%} [{low:+.1%}, {high:+.1%}], p = {v['p']:.3f}, **{t.word}** "
        f"({v['to_ms']:.3g} ms vs {v['from_ms']:.3g} ms, {v['pairs']} pairs"
        + (f"; lost: {'; '.join(t.lost)}" if t.lost else "")
        + ")"
    )


def render_latency(
    case: Case,
    axis: str,
    base: Cell,
    releases: list[tuple[str, Cell]],
    skipped: list[str],
    result: LatencyBisect,
    prober: LatencyProber,
    machine_id: str,
    command: str,
) -> str:
    """The latency bisect as markdown: the boundary with its paired evidence, then every probe."""
    timings, boundary, step, why = result.timings, result.boundary, result.step, result.stopped
    oldest, newest = releases[0][0], releases[-1][0]
    lines = [
        f"# Bisect the latency of `{case.scenario}/{case.case_id}` over {axis}",
        "",
        f"`{command}` on `{machine_id}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, harness {__version__}.",
        f"Base: {base.summary}; {len(releases)} {axis} releases from {oldest} to {newest}; "
        f"{len(timings)} probed, {prober.installs} environment(s) installed now.",
        "",
        f"Each probe is timed against {oldest} in {prober.rounds} paired rounds (one process per cell, back to "
        "back, order alternating; reference-corrected medians as in `harness triage`). A change counts when the "
        f"Wilcoxon p < 0.05, the bootstrap 95% CI excludes 0 and it is at least {prober.threshold:.0%}; the "
        f"newest release sets the direction, and the search assumes the change persists once it appears.",
        "",
    ]
    if why:
        lines += [f"**Stopped**: {why}.", ""]
    elif boundary is None and timings[-1].word == "uncertain":
        lines += [
            f"**Not settled**: {newest} against {oldest} is past {prober.threshold:.0%} but not significant: "
            f"{_change(timings[-1])}. More rounds (`--rounds 10`) give the test more power.",
            "",
        ]
    elif boundary is None:
        lines += [
            f"**No latency change beyond {prober.threshold:.0%}**: {newest} against {oldest}: {_change(timings[-1])}.",
            "",
        ]
    else:
        before, after = boundary
        lines += [
            f"**First {axis} release {after.word} than {oldest} by at least {prober.threshold:.0%}: {after.release}**.",
            "",
            f"- last before: {before.release + ' against ' + oldest + ': ' + _change(before) if before else oldest}",
            f"- first after: {after.release} against {oldest}: {_change(after)}",
        ]
        if step is not None and before is not None:
            lines.append(f"- the step itself: {after.release} against {before.release}: {_change(step)}")
        lines.append("")
    lines += ["Probes in release order:", ""]
    lines += [f"- {t.release} (`{t.cell.id}`) against {t.against}: {_change(t)}" for t in timings]
    if skipped:
        lines += ["", skipped_line(skipped)]
    return "\n".join(lines) + "\n"


def latency_data(result: LatencyBisect, threshold: float) -> dict[str, Any]:
    """The probes' verdicts and paired values (seconds), for the JSON beside the markdown."""

    def one(t: Timing) -> dict[str, Any]:
        return {
            "release": t.release,
            "cell": t.cell.id,
            "against": t.against,
            **t.verdict,
            "pairs_s": t.pairs,
            "lost": t.lost,
        }

    return {
        "threshold": threshold,
        "probes": [one(t) for t in result.timings],
        "first_changed": result.boundary[1].release if result.boundary else None,
        "step": one(result.step) if result.step else None,
        "stopped": result.stopped or None,
    }


def latency_found(result: LatencyBisect, threshold: float) -> dict[str, Any]:
    """A latency bisect's result fields: the first changed release and the step across it (change, CI, p)."""
    step = result.step.verdict if result.step else {}
    before = result.boundary[0] if result.boundary else None
    return {
        "kind": "latency",
        "first_release": result.boundary[1].release if result.boundary else None,
        "last_before": before.release if before else None,
        "change": step.get("change"),
        "ci": step.get("ci"),
        "p": step.get("p"),
        **latency_data(result, threshold),
    }
