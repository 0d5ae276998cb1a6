"""``--max-failure-rate``: a run stops when more than that share of the calls failed within any window of
``WINDOW`` consecutive calls (the default: 2 %, so a third failure among 100 calls stops it).

Counting starts with the first call, so a run failing from the start stops after a few calls, not after 100. A
call counts as failed when one of its outputs was not made (a refused rule re-issued alone, and made, is not a
failure of the call). Thread-safe; no clock, no requests.
"""

from __future__ import annotations

import threading
from collections import deque

WINDOW = 100
DEFAULT_MAX_FAILURE_RATE = 0.02


class FailureWindow:
    """The outcomes of the last ``window`` calls; ``tripped`` once failures among them exceed ``rate`` x ``window``."""

    def __init__(self, rate: float | None, window: int = WINDOW) -> None:
        self.rate, self.window = rate, window
        self.allowed = int(rate * window + 1e-9) if rate is not None else 0
        self._last: deque[bool] = deque(maxlen=window)
        self.failed_in_window = 0
        self.tripped = False
        self._lock = threading.Lock()

    def add(self, failed: bool) -> bool:
        """Count one call; whether the run must stop now."""
        if self.rate is None:
            return False
        with self._lock:
            if len(self._last) == self.window and self._last[0]:
                self.failed_in_window -= 1
            self._last.append(failed)
            self.failed_in_window += failed
            if self.failed_in_window > self.allowed:
                self.tripped = True
            return self.tripped

    def describe(self) -> str:
        return (f"{self.failed_in_window} of the last {len(self._last)} calls failed, more than "
                f"--max-failure-rate {(self.rate or 0) * 100:g} % of {self.window} allows")
