"""Why a run stops early, and what it reports: a signal (Ctrl-C, SIGTERM), a dead endpoint, or on purpose (the time
box of ``--max-duration``: ``WorkRemains``; the failure rate; a refused canary).

``EndpointWatch`` counts connection failures (refused, reset, DNS, timeouts) across all workers: when they have
followed each other, with no request succeeding in between, for ``window`` seconds, the endpoint is taken for dead
and the run stops (one slow call per worker, retried, would otherwise take minutes). ``RunStopped`` carries the
report of what was made and what was not; the caller prints it. The clock is injected, so tests never wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from reconciler.apply.contract import ApplyReport
from reconciler.errors import CosreconError, StorageError

EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM (CI cancellation, Kubernetes), raised in the main thread and handled exactly as Ctrl-C is."""


class RunStopped(CosreconError):
    """The run stopped before its end; ``report`` says what was made (journaled) and what was not."""

    def __init__(self, message: str, report: ApplyReport, exit_code: int = 1) -> None:
        super().__init__(message)
        self.report = report
        self.exit_code = exit_code


class WorkRemains(RunStopped):
    """A time-boxed run (``--max-duration``) ended with calls left to make: what was made is compacted into the
    ledger and the next run goes on from there. Exit code 3, so a scheduled workflow knows to come back."""

    exit_code = 3

    def __init__(self, message: str, report: ApplyReport) -> None:
        super().__init__(message, report, self.exit_code)


class EndpointWatch:
    """Trips when connection failures follow each other, across workers, for ``window`` seconds (counted from the
    start of the first failed attempt, so requests that time out count their waiting), and at least ``least`` of
    them were seen (one slow request alone is no dead endpoint)."""

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic, least: int = 3) -> None:
        self.window, self.clock, self.least = window, clock, least
        self.failures = 0
        self.since: float | None = None
        self.tripped = False
        self._lock = threading.Lock()

    def success(self) -> None:
        with self._lock:
            self.failures, self.since = 0, None

    def failure(self, error: StorageError, started: float | None = None) -> bool:
        """Count ``error`` (of an attempt begun at ``started``) if it is a connection failure; whether the endpoint
        is now taken for dead."""
        if error.code != "ConnectionError":
            return self.tripped
        with self._lock:
            now = self.clock()
            begun = now if started is None else started
            self.since = begun if self.since is None else min(self.since, begun)
            self.failures += 1
            if self.failures >= self.least and now - self.since >= self.window:
                self.tripped = True
            return self.tripped

    def describe(self) -> str:
        return (f"the endpoint stopped answering: {self.failures} connection failures in a row across workers "
                f"for {self.window:g}s")
