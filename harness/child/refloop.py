"""A fixed pure-Python workload, timed in the timing process around every sample: its speed yardstick.

On this kind of machine a timing process runs in a fast or a slow state (up to ~1.6x) for seconds to its
whole life. Measured in one TensorFlow cell (8 processes): masked-LSTM process medians varied by 15% (CV),
the same medians divided by this workload timed in the same process by 2.5%; a memory-bound C reference
(memmove) did not track the slow state (16%), nor fully did this workload in a separate process (6%).
The loop runs in the cell's own interpreter, so its speed also depends on the Python version: reports
compare normalised values within one Python version, or convert them back at that version's fast speed.
"""

from __future__ import annotations

import gc
import time

LOOPS = 100_000  # ~7 ms (fast state) to ~11 ms (slow) on a 2-core EPYC VM under CPython 3.11


def workload(n: int = LOOPS) -> int:
    """Integer arithmetic in an interpreted loop: no allocation or library code whose speed could vary."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def sample() -> float:
    """Seconds of one run of the workload, the garbage collector paused."""
    gc.disable()
    try:
        t0 = time.perf_counter()
        workload()
        return time.perf_counter() - t0
    finally:
        gc.enable()


if __name__ == "__main__":  # the parent's speed check: the fastest of a few runs, in seconds
    print(min(sample() for _ in range(15)))
