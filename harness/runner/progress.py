"""Progress lines with elapsed time and an estimate of everything the run has left, all parts together."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

PRIOR_WEIGHT = 10  # units: the prior counts as at least this many done
PRIOR_SHARE = 0.05  # and as this share of the part's units, so thousands of cheap units are not swung by one import


@dataclass
class Part:
    """One part of a run (compatibility cases, timing processes, cross-load processes, the report)."""

    units: int
    prior_s: float  # seconds per unit before any was measured
    done: int = 0
    started: float | None = None
    finished: bool = False

    def left_s(self, now: float) -> float:
        """Seconds this part still needs: units left at a pace that moves from the prior to the measured one.

        The prior counts as units already done (PRIOR_WEIGHT, or PRIOR_SHARE of the part if more), so the
        first few units, which carry the imports, do not swing the estimate.
        """
        if self.finished:
            return 0.0
        left = max(0, self.units - self.done)
        if self.started is None:
            return left * self.prior_s
        weight = max(PRIOR_WEIGHT, PRIOR_SHARE * self.units)
        pace = (weight * self.prior_s + (now - self.started)) / (weight + self.done)
        return left * pace


@dataclass
class Estimate:
    """Seconds left in a run of several parts, each part paced by its own measurements."""

    parts: dict[str, Part] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(self, name: str, units: int, prior_s: float) -> None:
        """Declare a part and its units of work before the run starts."""
        with self.lock:
            self.parts[name] = Part(units, prior_s)

    def begin(self, name: str, units: int | None = None) -> None:
        """The part starts now (`units`: its real size, once known)."""
        with self.lock:
            part = self.parts.setdefault(name, Part(units or 0, 0.0))
            part.started = time.time()
            if units is not None:
                part.units = units

    def tick(self, name: str, units: int = 1) -> None:
        """`units` of the part are done."""
        with self.lock:
            if name in self.parts:
                self.parts[name].done += units

    def end(self, name: str) -> None:
        """The part is over (whatever its units said)."""
        with self.lock:
            if name in self.parts:
                self.parts[name].finished = True

    def left_s(self) -> float:
        """Seconds left in all parts."""
        now = time.time()
        with self.lock:
            return sum(p.left_s(now) for p in self.parts.values())


@dataclass
class Progress:
    """One-line progress output: a label, the elapsed time, and the estimate of what is left."""

    label: str
    start: float = field(default_factory=time.time)
    estimate: Estimate | None = None
    out: TextIO | None = None  # None: whatever sys.stdout is when a line is printed
    lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self, text: str) -> None:
        """Print one line with elapsed time and, when the run has an estimate, what is left."""
        tail = f"elapsed {mmss(time.time() - self.start)}"
        if self.estimate is not None:
            tail += f", ~{mmss(self.estimate.left_s())} left"
        with self.lock:
            print(f"{self.label} {text}  [{tail}]", file=self.out or sys.stdout, flush=True)

    def sub(self, label: str) -> Progress:
        """A progress for one part of the run (same clock, estimate, output and lock)."""
        return Progress(label, self.start, self.estimate, self.out, self.lock)


def mmss(seconds: float) -> str:
    """`m:ss` (or `h:mm:ss` past an hour)."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
