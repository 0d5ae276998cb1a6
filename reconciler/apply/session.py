"""An apply-like run over the sets of a plan: open each set (snapshot, stale-plan check, journal), finish it
(flush journals, compact changed ledgers) and make the report.

The common frame of the executor's ``Engine`` (apply) and ``adoption``'s ``Adopter``. The caller holds the locks.
This module must not issue image_process calls or deletes, and must not take or release locks.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TypeVar

from reconciler.apply.contract import ApplyOptions, ApplyReport, BackendLike
from reconciler.apply.bookkeeping import SetRun, Tally
from reconciler.plan.guard import Guard
from reconciler.plan.ownership import (Ownership, check_identity, gather, index_of, repository_identity,
                                        write_index)
from reconciler.apply.stopping import EndpointWatch
from reconciler.errors import StalePlanError, StateError, StorageError
from reconciler.state.journal import Journal
from reconciler.state.locks import HeldLock, LockLost
from reconciler.state.store import LEDGER_NAME
from reconciler.model import Declaration, Plan
from reconciler.pacing import TokenBucket, with_retries

T = TypeVar("T")


def new_run_id() -> str:
    """A run's id: UTC time then random hex, so journal segments sort by run."""
    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


def _plain(document: Mapping[str, object]) -> dict[str, object]:
    """The declaration as plain JSON data, as the ledger stores it."""
    data: dict[str, object] = json.loads(json.dumps(document, ensure_ascii=False, default=str))
    return data


class Session:
    """One run over the sets of a plan, with the locks held by the caller."""

    def __init__(self, plan: Plan, decls: Sequence[Declaration], backend: BackendLike, options: ApplyOptions,
                 locks: Mapping[str, HeldLock]) -> None:
        self.plan, self.decls, self.backend, self.options, self.locks = plan, decls, backend, options, locks
        self.run_id = new_run_id()
        self.tally = Tally(options.progress)
        self.guard = Guard(decls)  # what no plan or ledger can make this run delete or overwrite (set by _open)
        self.ownership: dict[str, Ownership] = {}
        # connection failures in a row, across workers: a dead endpoint stops the run (``stopping``)
        self.watch = EndpointWatch(options.dead_endpoint_after, options.clock, least=min(3, options.parallelism))
        self.warnings: list[str] = []
        self.runs: list[SetRun] = []
        self.stop = threading.Event()  # set to stop dispatching (Ctrl-C, a lost lock, a crash)
        self.crash: BaseException | None = None

    def _open(self) -> None:
        store = self.backend.ledgers
        self.ownership = {d.name: gather(store, d) for d in self.decls}  # refuses a set of another repository
        self.guard = Guard(self.decls, {n: o.owned for n, o in self.ownership.items()})
        snapshots = []
        for set_plan, decl in zip(self.plan.sets, self.decls):
            snap = store.snapshot(decl)
            if snap.compacted.name != decl.name:
                raise StateError(f"set {decl.name!r}: its ledger names set {snap.compacted.name!r} (copied from "
                                 f"another set?); nothing was done. Move it back, or delete it and run adopt")
            check_identity(decl, snap.compacted.identity, f"{store.blobs(decl).where}{LEDGER_NAME}")
            if self.options.check_generation and snap.ledger.generation != set_plan.ledger_generation:
                raise StalePlanError(
                    f"set {decl.name!r}: the ledger changed since the plan was made (generation "
                    f"{set_plan.ledger_generation} -> {snap.ledger.generation}); make a new plan")
            snapshots.append(snap)
        for set_plan, decl, snap in zip(self.plan.sets, self.decls, snapshots):
            journal = Journal(store, decl, self.run_id, snap.compacted.generation,
                              interval=self.options.journal_interval, batch=self.options.journal_batch)
            self.runs.append(SetRun(decl, set_plan, snap, journal))

    def _close(self) -> dict[str, str]:
        """Flush every journal, then compact each set whose ledger or declaration changed."""
        problems: list[str] = []
        for run in self.runs:
            try:
                run.journal.close()
            except StorageError as error:
                problems.append(f"set {run.decl.name!r}: journal not written: {error.message}")
        if problems:
            raise StateError("; ".join(problems) + " — outputs made by this run may be reported again as conflicts")
        self.check_locks(0.0)  # never compact over another holder's ledger: the journal stays for it to merge
        self._note_vanished_segments()
        generations: dict[str, str] = {}
        for run in self.runs:
            document = _plain(run.decl.document)
            old = run.snapshot.ledger
            unrecorded = not old.identity and bool(repository_identity(run.decl.path))
            if not (run.changed or run.snapshot.segment_names or run.journal.names or old.declaration != document
                    or unrecorded):
                generations[run.decl.name] = old.generation
                continue
            identity = repository_identity(run.decl.path) or old.identity  # recorded at the first apply
            ledger = replace(old, entries=run.entries, identity=identity)
            names = list(run.snapshot.segment_names) + run.journal.names
            new = self._retry(lambda: self.backend.ledgers.compact(run.decl, ledger, document, names))
            generations[run.decl.name] = new.generation
        for run in self.runs:
            self._write_index(run)
        return generations

    def _write_index(self, run: SetRun) -> None:
        """Record what the set owns now (``ownership``), when it changed: other sets' plans and applies read it."""
        previous = self.ownership[run.decl.name].own if run.decl.name in self.ownership else None
        index = index_of(run.decl, previous)
        if index != previous:
            self._retry(lambda: write_index(self.backend.ledgers, run.decl, index))

    def _note_vanished_segments(self) -> None:
        """Journal segments this run wrote that are gone before compaction (deleted by hand or by another
        process): nothing is lost now (the ledger is written from memory), but a run killed meanwhile would have."""
        for run in self.runs:
            if not run.journal.names:
                continue
            present = set(self._retry(lambda: self.backend.ledgers.blobs(run.decl).list("journal/")))
            gone = [n for n in run.journal.names if n not in present]
            if gone:
                self.warnings.append(f"set {run.decl.name!r}: {len(gone)} journal segment(s) this run wrote were "
                                     f"deleted while it ran (e.g. {gone[0]}); the ledger is written from what the "
                                     f"run holds, but check what deletes the state location's objects")

    def check_locks(self, max_age: float) -> None:
        """Raise ``LockLost`` (and stop dispatching) when this run no longer holds a set's lock."""
        for run in self.runs:
            lock = self.locks.get(run.decl.name)
            if lock is None:
                continue
            try:
                lock.check(max_age)
            except LockLost:
                self.stop.set()
                raise

    def _keep_journals(self) -> None:
        """After a failed run: write what each journal holds (best effort); the lock is released by the caller."""
        for run in self.runs:
            try:
                run.journal.close()
            except StorageError:
                pass

    def _retry(self, fn: Callable[[], T], limiter: TokenBucket | None = None) -> T:
        return with_retries(fn, self.options.retry, limiter=limiter)

    def _report(self, started: float, generations: dict[str, str]) -> ApplyReport:
        t = self.tally
        takeovers = tuple(f"set {name!r}: took over {lock.took_over.describe()}"
                          for name, lock in sorted(self.locks.items()) if lock.took_over is not None)
        return ApplyReport(created=t.created, replaced=t.replaced, deleted=t.deleted, adopted=t.adopted,
                           failures=tuple(t.failures), skipped=tuple(t.skipped), calls=t.calls, attempts=t.attempts,
                           seconds=time.monotonic() - started, takeovers=takeovers, generations=generations,
                           warnings=tuple(self.warnings))
