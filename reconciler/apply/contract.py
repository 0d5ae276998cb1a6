"""What an apply takes and gives back: ``ApplyOptions``, the ``ApplyReport`` with its ``Failure``/``Skipped`` rows,
the budget check, and the two interfaces the engine is handed (``BackendLike``, ``ProgressSink``).

Shared by the executor, ``cosrecon apply``, the report renderer and the Pulumi provider. Values and checks only:
this module must not issue requests, start threads, print, or know how the calls are made.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from reconciler.apply.canary import CanaryResult
from reconciler.apply.failrate import DEFAULT_MAX_FAILURE_RATE
from reconciler.apply.ordering import Order
from reconciler.apply.timebox import TimeLimit
from reconciler.errors import BudgetExceeded
from reconciler.model import ActionKind, Plan
from reconciler.pacing import RetryPolicy
from reconciler.storage import Storage

if TYPE_CHECKING:
    from reconciler.state.store import LedgerStore


class BackendLike(Protocol):
    """What the executor needs of ``ops.compose.Backend``."""

    ledgers: LedgerStore

    def storage(self, region: str) -> Storage: ...


class ProgressSink(Protocol):
    """Receives progress from worker threads (calls are serialised by the executor)."""

    def start(self, total: int) -> None: ...

    def advance(self, *, done: int = 0, failed: int = 0, calls: int = 0) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ApplyOptions:
    """How an apply runs: parallelism, pacing, budgets, lock waiting, journaling and evidence intervals."""

    parallelism: int = 16
    max_qps: float = 100.0  # 0: no limit
    max_calls: int | None = None
    max_delete: int | None = None
    lock_timeout: float = 0.0
    lease: float = 60.0
    lock_check_interval: float = 1.0  # before a batch of calls, the lock object is read again if older than this
    dead_endpoint_after: float = 30.0  # stop when only connection failures were seen, across workers, this long
    clock: Callable[[], float] = time.monotonic  # for the dead-endpoint window (tests inject one)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    journal_interval: float = 1.0
    # where a journal that cannot be written to the state location is kept (a dead endpoint), named in the report
    local_journal_dir: Path = Path(".cosrecon/journal-unwritten")
    journal_batch: int = 100
    check_generation: bool = True  # refuse (StalePlanError) when a set's ledger moved since the plan
    recheck_sources: bool = False  # HEAD each source before its call (saved plans: the plan may be old)
    verify_interval: float = 0.25  # how often made outputs are looked up (their ETags, as listing shows them)
    progress: ProgressSink | None = None
    on_lock_wait: Callable[[str], None] | None = None  # told the holder while waiting for a lock
    time_limit: TimeLimit | None = None  # --max-duration: stop dispatching in time to compact before it (timebox)
    order: Order = Order.NEWEST  # --order: which calls go first (ordering)
    canary: int = 0  # --canary N: make N calls, check their outputs, then ask ``on_canary`` (canary)
    on_canary: Callable[[CanaryResult], None] | None = None  # raises errors.Aborted to stop after the canary
    max_failure_rate: float | None = DEFAULT_MAX_FAILURE_RATE  # over any 100 calls (failrate); None: never stop


@dataclass(frozen=True)
class Failure:
    """An output not made (or not deleted), with COS's code, message and request id."""

    set: str
    address: str
    bucket: str
    key: str
    source: str
    code: str
    message: str
    request_id: str = ""
    status: int = 0


@dataclass(frozen=True)
class Skipped:
    """An output deliberately left alone, and why."""

    set: str
    address: str
    bucket: str
    key: str
    source: str
    reason: str


@dataclass(frozen=True)
class ApplyReport:
    """What an apply did. ``failures`` and ``skipped`` are per output; ``calls`` counts image_process calls."""

    created: int = 0
    replaced: int = 0
    deleted: int = 0
    adopted: int = 0
    failures: tuple[Failure, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    calls: int = 0
    attempts: int = 0
    seconds: float = 0.0
    takeovers: tuple[str, ...] = ()
    generations: Mapping[str, str] = field(default_factory=dict)  # set -> ledger generation written
    stopped: str = ""  # why the run stopped before its end ("" when it ran to the end)
    planned_calls: int = 0  # the image_process calls the plan had (a stopped run made ``calls`` of them)
    warnings: tuple[str, ...] = ()  # e.g. ledger entries this set could not have written (nothing done with them)

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else 0.0


def check_budget(plan: Plan, options: ApplyOptions) -> None:
    """Refuse before starting when the plan needs more calls or deletes than allowed."""
    if options.max_calls is not None and plan.calls > options.max_calls:
        raise BudgetExceeded(f"the plan needs {plan.calls} image_process calls; --max-calls allows {options.max_calls}")
    deletes = plan.count(ActionKind.DELETE)
    if options.max_delete is not None and deletes > options.max_delete:
        raise BudgetExceeded(f"the plan deletes {deletes} objects; --max-delete allows {options.max_delete}")
