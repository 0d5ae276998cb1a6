"""One apply run's bookkeeping: each set's ledger entries as they evolve (``SetRun``), and the counts, failures and
skips the report is made of (``Tally``), all safe to update from worker threads.

Used by the executor and its evidence helpers. This module must not issue requests or decide what to do: it only
records what the engine did (and forwards records to the set's journal).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol
from datetime import datetime, timezone

from reconciler.apply.contract import Failure, ProgressSink, Skipped
from reconciler.errors import StorageError
from reconciler.state.journal import Journal
from reconciler.state.ledger import JournalRecord
from reconciler.state.index import ChangedEntries
from reconciler.model import (ActionKind, Call, Declaration, LedgerEntry, PlannedAction, Reason, RuleOp,
                              SetPlan, Target)
from reconciler.state.store import Snapshot


class SetRun:
    """One set's state during a run: its ledger as it evolves, its journal, its planned actions by key."""

    def __init__(self, decl: Declaration, set_plan: SetPlan, snapshot: Snapshot, journal: Journal) -> None:
        self.decl, self.plan, self.snapshot, self.journal = decl, set_plan, snapshot, journal
        self.entries = ChangedEntries(snapshot.ledger.entries)  # the snapshot's, changes laid over (no copy)
        # the deletes, conflicts and orphans; a call's creates and replaces are its rules' targets (``target``)
        self.others: tuple[PlannedAction, ...] = set_plan.other_actions()
        self.changed = False
        self.lock = threading.Lock()

    def record(self, records: Sequence[JournalRecord]) -> None:
        """Apply ``records`` to the evolving entries and hand them to the journal."""
        if not records:
            return
        with self.lock:
            for r in records:
                if r.op == "put" and r.entry is not None:
                    self.entries.put(r.entry)
                elif r.op == "delete":
                    self.entries.delete((r.bucket, r.key))
            self.changed = True
        self.journal.add(records)

    @staticmethod
    def target(call: Call, op: RuleOp) -> Target | None:
        """What the plan says ``op`` of ``call`` makes, and why."""
        for target, key in call.pairs():
            if key == op.key and target.bucket == op.bucket:
                return target
        return None

    def was_missing(self, call: Call, op: RuleOp) -> bool:
        """Whether the plan found nothing at this output key (so an object there now is this run's)."""
        target = self.target(call, op)
        return target is not None and target.action is ActionKind.CREATE and target.reason is Reason.MISSING


class OutputAt(Protocol):
    """An output's place: a rule of a call (``RuleOp``) or a planned action (``PlannedAction``)."""

    @property
    def address(self) -> str: ...

    @property
    def bucket(self) -> str: ...

    @property
    def key(self) -> str: ...


class Tally:
    """The run's counts, failures and skips; ``advance`` forwards progress to the sink, one call at a time. Every
    update takes the tally's lock itself: callers never do."""

    def __init__(self, progress: ProgressSink | None) -> None:
        self.lock = threading.Lock()
        self.progress = progress
        self.created = self.replaced = self.deleted = self.adopted = self.calls = self.attempts = 0
        self.failures: list[Failure] = []
        self.skipped: list[Skipped] = []

    def made(self, kind: ActionKind | None) -> None:
        with self.lock:
            if kind is ActionKind.CREATE:
                self.created += 1
            else:
                self.replaced += 1

    def count(self, *, calls: int = 0, attempts: int = 0, deleted: int = 0, adopted: int = 0) -> None:
        with self.lock:
            self.calls += calls
            self.attempts += attempts
            self.deleted += deleted
            self.adopted += adopted

    def fail(self, run: SetRun, output: OutputAt, source: str, error: StorageError | None, message: str = "") -> None:
        """``output`` (made from ``source``) not made: its report row (``failure``)."""
        row = failure(run, output.address, output.bucket, output.key, source, error, message)
        with self.lock:
            self.failures.append(row)

    def fail_all(self, run: SetRun, outputs: Sequence[OutputAt], source: str, error: StorageError | None) -> None:
        """Each of ``outputs`` not made for ``error``; progress advanced by as many failures."""
        for output in outputs:
            self.fail(run, output, source, error)
        self.advance(failed=len(outputs))

    def skip(self, run: SetRun, output: OutputAt, source: str, why: str) -> None:
        """``output`` left alone on purpose, with why."""
        with self.lock:
            self.skipped.append(Skipped(run.decl.name, output.address, output.bucket, output.key, source, why))

    def skip_all(self, run: SetRun, outputs: Sequence[OutputAt], source: str, why: str) -> None:
        """Each of ``outputs`` left alone for ``why``; progress advanced by as many done."""
        for output in outputs:
            self.skip(run, output, source, why)
        self.advance(done=len(outputs))

    def advance(self, *, done: int = 0, failed: int = 0, calls: int = 0) -> None:
        if self.progress is not None:
            with self.lock:
                self.progress.advance(done=done, failed=failed, calls=calls)


def failure(run: SetRun, address: str, bucket: str, key: str, source: str, error: StorageError | None,
            message: str = "") -> Failure:
    """The report row for an output not made: COS's code and request id, or ``NotMade`` with ``message``."""
    if error is None:
        return Failure(run.decl.name, address, bucket, key, source, "NotMade", message)
    return Failure(run.decl.name, address, bucket, key, source, error.code or "Error",
                   message or error.detail, error.request_id, error.status)


def made_entry(call: Call, bucket: str, key: str, address: str, fingerprint: str, etag: str) -> LedgerEntry:
    """The ledger entry of an output ``call`` made (``etag`` "" for an intent: the call is not issued yet)."""
    return LedgerEntry(bucket=bucket, key=key, address=address, source_key=call.key, source_etag=call.source_etag,
                       fingerprint=fingerprint, output_etag=etag, made_at=_now())


_LAST_NOW = [""]


def _now() -> str:
    """The time, to the second: one string per second however many entries are made in it."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    last = _LAST_NOW[0]
    if now == last:
        return last
    _LAST_NOW[0] = now  # worker threads may race here: each still returns its own time
    return now
