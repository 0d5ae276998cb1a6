"""Time-boxed runs (``apply --max-duration``): when to stop dispatching so that in-flight calls end and the ledger is
compacted before the deadline, and the line that says what is left.

The deadline is counted from the command's start (planning included). Dispatching stops once the time left is no
more than the reserve: twice the slowest attempt seen so far (a call in flight ends its current attempt and is not
retried), the wait for the rate limiter's queue (``parallelism`` / pace), and the compaction allowance
(``COMPACT_BASE`` + ``COMPACT_PER_ENTRY`` per ledger entry of the run's sets). The clock is injected: tests never
wait. Values and arithmetic only: this module issues no request and stops nothing itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

COMPACT_BASE = 0.25  # seconds: flushing journals, reading the lock, writing the ledger object
# seconds per ledger entry: docs/benchmarks.md's "apply bookkeeping wall" (3 x 10^6 entries read, one remade output
# per source recorded, the next ledger written: 35.7 s on 2 shared cores), taken whole as the compaction's bound
COMPACT_PER_ENTRY = 12e-6
FIRST_ATTEMPT_GUESS = 0.2  # seconds an attempt is assumed to take before one has been seen


@dataclass(frozen=True)
class TimeLimit:
    """``--max-duration``: ``deadline`` on ``clock`` (time.monotonic unless a test injects one)."""

    deadline: float
    clock: Callable[[], float] = time.monotonic

    @staticmethod
    def starting_now(seconds: float, clock: Callable[[], float] = time.monotonic) -> TimeLimit:
        return TimeLimit(clock() + seconds, clock)

    def left(self) -> float:
        return self.deadline - self.clock()


class TimeBox:
    """One run's view of its time limit: ``due`` says when to stop dispatching; attempts report their duration."""

    def __init__(self, limit: TimeLimit | None, *, parallelism: int, rate: float, ledger_entries: int) -> None:
        self.limit = limit
        self.queue_wait = parallelism / rate if rate > 0 else 0.0
        self.compaction = COMPACT_BASE + COMPACT_PER_ENTRY * ledger_entries
        self.slowest = 0.0
        self.reached = False
        self._lock = threading.Lock()

    def attempt_took(self, seconds: float) -> None:
        with self._lock:
            if seconds > self.slowest:
                self.slowest = seconds

    @property
    def reserve(self) -> float:
        return 2 * (self.slowest or FIRST_ATTEMPT_GUESS) + self.queue_wait + self.compaction

    def due(self) -> bool:
        """Whether dispatching must stop now (and, once it has said so, always)."""
        if self.limit is None:
            return False
        if not self.reached and self.limit.left() <= self.reserve:
            self.reached = True
        return self.reached


def remaining_line(made: int, total: int, seconds: float) -> str:
    """``made M of T calls; R remaining; about H h at the current pace`` (the pace: calls made / seconds spent)."""
    left = max(0, total - made)
    line = f"made {made} of {total} calls; {left} remaining"
    if left and made and seconds > 0:
        hours = left / (made / seconds) / 3600
        line += f"; about {hours:.1f} h at the current pace" if hours >= 0.1 else \
            f"; about {max(1, round(hours * 60))} min at the current pace"
    elif left:
        line += "; no pace measured yet (no call was made)"
    return line
