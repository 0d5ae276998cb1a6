"""Admission of image processing on the local server: how many processing requests run at once, how many
decoded pixels they may hold together, and the rate of download-time processing (issue 15: four 15800x15800
PNGs at once must not exhaust memory).

The per-request bounds (input size, output size of each step) live with the processing code; this gate only
decides WHEN a request may start. A request costs its source's decoded pixels times ``bytes_per_pixel``
(RGBA decode, a working copy and the output); requests run while the sum of costs stays within
``memory_budget`` and their number within ``max_concurrent``. A request costing more than the whole budget
runs alone. Waiting is bounded (``queue_seconds``), after which the reply is 503 SlowDown, as for persistent
processing over its rate.
Download-time processing is paced by a ``reconciler.pacing.TokenBucket`` at ``download_qps`` (Cloud
Infinite: 3000/s; persistent processing's 100/s is ``Faults``' ``ci_qps``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from reconciler.local.protocol import CosError
from reconciler.pacing import TokenBucket

_GIB = 1024 ** 3
_FALLBACK_MEMORY = 8 * _GIB  # when the platform does not say how much memory it has


def physical_memory() -> int:
    """The machine's memory in bytes (8 GiB when the platform does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return _FALLBACK_MEMORY


@dataclass(frozen=True)
class ProcessingLimits:
    """The gate's sizes. ``from_memory`` derives them from the machine; tests pass small ones."""

    memory_budget: int = 2 * _GIB  # decoded bytes all running processing requests may hold together
    max_concurrent: int = 4
    bytes_per_pixel: int = 12  # RGBA decode + a working copy + the output (measured: ~11.5 B/px at 64 Mpx)
    queue_seconds: float = 30.0  # how long a request waits for its turn before 503 SlowDown
    download_qps: float = 3000.0  # download-time processing, per second (0: unlimited)
    download_wait: float = 1.0  # a download-time request paced longer than this gets 503 SlowDown

    @staticmethod
    def from_memory(total: int | None = None, cpus: int | None = None) -> ProcessingLimits:
        """A quarter of the machine's memory, at most 2 GiB, at least 256 MiB; two requests per CPU."""
        total = physical_memory() if total is None else total
        cpus = (os.cpu_count() or 1) if cpus is None else cpus
        budget = max(256 * 1024 ** 2, min(2 * _GIB, total // 4))
        return ProcessingLimits(memory_budget=budget, max_concurrent=max(1, 2 * cpus))


class ProcessingGate:
    """Admits processing requests within the limits; thread-safe."""

    def __init__(self, limits: ProcessingLimits, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limits = limits
        self._clock = clock
        self._cond = threading.Condition()
        self._running = 0
        self._held = 0
        self._downloads = TokenBucket(limits.download_qps, burst=max(1.0, limits.download_qps / 10),
                                      clock=clock, sleep=sleep)
        self._sleep = sleep
        self.peak_held = 0  # the most decoded bytes admitted at once (for the measurement script)

    def cost(self, pixels: int) -> int:
        return max(1, pixels) * self.limits.bytes_per_pixel

    def _fits(self, cost: int) -> bool:
        if self._running >= self.limits.max_concurrent:
            return False
        if cost > self.limits.memory_budget:
            return self._running == 0  # too big to share: runs alone
        return self._held + cost <= self.limits.memory_budget

    @contextmanager
    def admit(self, pixels: int) -> Iterator[None]:
        """Hold a processing slot for a source of ``pixels`` decoded pixels; 503 SlowDown when none frees
        up within ``queue_seconds``."""
        cost = self.cost(pixels)
        end = self._clock() + self.limits.queue_seconds
        with self._cond:
            while not self._fits(cost):
                left = end - self._clock()
                if left <= 0:
                    raise CosError("SlowDown", "Too many images are being processed; please retry.", ci=True)
                self._cond.wait(left)
            self._running += 1
            self._held += cost
            self.peak_held = max(self.peak_held, self._held)
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._held -= cost
                self._cond.notify_all()

    def pace_download(self) -> None:
        """Download-time processing at most ``download_qps``: wait for a token, or 503 SlowDown when the wait
        would exceed ``download_wait``."""
        wait = self._downloads.try_reserve(self.limits.download_wait)
        if wait is None:
            raise CosError("SlowDown", "Please reduce your request rate.", ci=True)
        if wait > 0:
            self._sleep(wait)
