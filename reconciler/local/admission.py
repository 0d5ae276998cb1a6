"""Admission of image processing on the local server: how many processing requests run at once, how much memory
they may hold together, and the rate of download-time processing (issue 15: four 15800x15800 PNGs at once must not
exhaust memory; issue 22: the bound documented, under 1 GiB for the server, holds for the worst inputs).

The per-request bounds (input size, output size of each step) live with the processing code; this gate only
decides WHEN a request may start. A request costs its working set at its peak, estimated before it runs from the
source's header and its rules (``footprint.request_bytes``: every step's images, conversions and the encoded
output); requests run while the sum of costs stays within ``memory_budget`` and their number within
``max_concurrent``. A request costing more than the whole budget runs alone, and one costing more than
``max_request`` is refused (``NotEmulated``: 501, as the processing code's own bounds). Waiting is bounded
(``queue_seconds``), after which the reply is 503 SlowDown, as for persistent processing over its rate.
``return_freed_memory`` makes the C allocator give freed images back to the system at once, so the server's
resident size follows what the gate admits instead of keeping every thread's high-water mark.
Download-time processing is paced by a ``reconciler.pacing.TokenBucket`` at ``download_qps`` (Cloud
Infinite: 3000/s; persistent processing's 100/s is ``Faults``' ``ci_qps``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from reconciler.local.protocol import CosError
from reconciler.local.ruleparse import NotEmulated
from reconciler.pacing import TokenBucket

_GIB = 1024 ** 3
_MIB = 1024 ** 2
# The documented bound: the server under 1 GiB resident. Its idle size (~35 MiB), the Python objects of the
# requests and what the allocator keeps leave about 768 MiB for the images the gate admits.
MAX_BUDGET = 768 * _MIB
MAX_REQUEST = 896 * _MIB  # one request estimated over this is refused: alone, it would still break the bound
_M_MMAP_THRESHOLD = -3  # glibc mallopt: allocations from this size on are mmapped, and unmapped when freed
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

    memory_budget: int = MAX_BUDGET  # estimated bytes all running processing requests may hold together
    max_request: int = MAX_REQUEST  # a request estimated over this is refused (400), not run alone
    max_concurrent: int = 4
    queue_seconds: float = 30.0  # how long a request waits for its turn before 503 SlowDown
    download_qps: float = 3000.0  # download-time processing, per second (0: unlimited)
    download_wait: float = 1.0  # a download-time request paced longer than this gets 503 SlowDown

    @staticmethod
    def from_memory(total: int | None = None, cpus: int | None = None) -> ProcessingLimits:
        """A quarter of the machine's memory, at most ``MAX_BUDGET``, at least 256 MiB; two requests per CPU."""
        total = physical_memory() if total is None else total
        cpus = (os.cpu_count() or 1) if cpus is None else cpus
        budget = max(256 * _MIB, min(MAX_BUDGET, total // 4))
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
        self.peak_held = 0  # the most estimated bytes admitted at once (for tests and the measurement script)

    def _fits(self, cost: int) -> bool:
        if self._running >= self.limits.max_concurrent:
            return False
        if cost > self.limits.memory_budget:
            return self._running == 0  # too big to share: runs alone
        return self._held + cost <= self.limits.memory_budget

    @contextmanager
    def admit(self, estimate: int) -> Iterator[None]:
        """Hold a processing slot for a request whose working set is ``estimate`` bytes at its peak
        (``footprint.request_bytes``); 503 SlowDown when none frees up within ``queue_seconds``."""
        cost = max(1, estimate)
        if cost > self.limits.max_request:
            raise NotEmulated(f"the request would hold about {cost // _MIB:,} MiB at its peak: too large for the "
                              f"local server (its own bound is {self.limits.max_request // _MIB:,} MiB per request; "
                              f"the cloud may accept it)")
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


def return_freed_memory() -> None:
    """Have glibc's allocator mmap every allocation of 1 MiB or more (Pillow's image blocks) and unmap it when freed.
    By default the threshold rises to the largest block freed so far (up to 32 MiB), after which image blocks come
    from per-thread arenas that keep their high-water mark: four 40 Mpx requests run two at a time then peaked at
    1,577 MiB instead of 1,254. A no-op where there is no glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MIB)
    except (OSError, AttributeError):
        pass
