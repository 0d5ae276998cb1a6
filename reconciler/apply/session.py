"""An apply-like run over the sets of a plan: open each set (snapshot, stale-plan check, journal), finish it
(flush journals, compact changed ledgers) and make the report.

The common frame of the executors' ``Engine`` (apply), ``IngestEngine`` (upload) and ``adopt``'s ``Adopter``:
the batched, lock-checked worker loop (``dispatch``) and the one watched attempt (``attempt``). The caller holds the
locks. This module decides no request of its own (the engines hand it their work) and takes or releases no lock.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TypeVar

from reconciler.apply.contract import ApplyOptions, ApplyReport, BackendLike
from reconciler.apply.bookkeeping import SetRun, Tally
from reconciler.plan.guard import Guard
from reconciler.plan.ownership import (Ownership, check_identity, gather, index_of, repository_identity,
                                        write_index)
from reconciler.apply.stopping import EndpointWatch, RunStopped
from reconciler.errors import StalePlanError, StateError, StorageError
from reconciler.state.journal import Journal
from reconciler.state.locks import HeldLock, LockLost
from reconciler.state.store import LEDGER_NAME
from reconciler.model import ActionKind, Declaration, Plan
from reconciler.pacing import TokenBucket, with_retries

T = TypeVar("T")
U = TypeVar("U")


def new_run_id() -> str:
    """A run's id: UTC time then random hex, so journal segments sort by run."""
    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


def _plain(document: Mapping[str, object]) -> dict[str, object]:
    """The declaration as plain JSON data, as the ledger stores it."""
    data: dict[str, object] = json.loads(json.dumps(document, ensure_ascii=False, default=str))
    return data


class Session:
    """One run over the sets of a plan, with the locks held by the caller."""

    VERB = "apply"  # in messages: "not issued: apply was stopping"

    def __init__(self, plan: Plan, decls: Sequence[Declaration], backend: BackendLike, options: ApplyOptions,
                 locks: Mapping[str, HeldLock]) -> None:
        self.plan, self.decls, self.backend, self.options, self.locks = plan, decls, backend, options, locks
        self.run_id = new_run_id()
        self.started = time.monotonic()
        self.tally = Tally(options.progress)
        self.guard = Guard(decls)  # what no plan or ledger can make this run delete or overwrite (set by _open)
        self.ownership: dict[str, Ownership] = {}
        # connection failures in a row, across workers: a dead endpoint stops the run (``stopping``)
        self.watch = EndpointWatch(options.dead_endpoint_after, options.clock, least=min(3, options.parallelism))
        self.warnings: list[str] = []
        self._kept: list[str] | None = None  # journals kept locally (``_keep_journals``), once per run
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
        if self._keep_journals():  # the state location cannot be written: end with the report, journals kept here
            raise RunStopped("the journal could not be written to the state location (named above); nothing was "
                             "compacted. Outputs made by this run may be reported again as conflicts",
                             replace(self._report(self.started, {}), stopped="journal not written"))
        self.check_locks(0.0)  # never compact over another holder's ledger: the journal stays for it to merge
        self._note_vanished_segments()
        generations: dict[str, str] = {}
        for run in self.runs:
            lock = self.locks.get(run.decl.name)
            if lock is not None and not _has_work(run) and not lock.still_held():
                self.warnings.append(f"set {run.decl.name!r} (nothing to do) lost its lock {lock.info.id} during "
                                     "this run (unlocked?): its ledger was left as it was; the other sets went on")
                generations[run.decl.name] = run.snapshot.ledger.generation
                continue
            document = _plain(run.decl.document)
            old = run.snapshot.ledger
            unrecorded = not old.identity and bool(repository_identity(run.decl.path))
            if not (run.changed or run.snapshot.segment_names or run.journal.names or old.declaration != document
                    or unrecorded):
                generations[run.decl.name] = old.generation
                continue
            identity = repository_identity(run.decl.path) or old.identity  # recorded at the first apply
            ledger = replace(old, entries=run.entries, identity=identity, unprocessable=run.unprocessable,
                             rates=run.rates())
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
            present = set(self._retry(lambda: self.backend.ledgers.journal_segments(run.decl)))
            gone = [n for n in run.journal.names if n not in present]
            if gone:
                self.warnings.append(f"set {run.decl.name!r}: {len(gone)} journal segment(s) this run wrote were "
                                     f"deleted while it ran (e.g. {gone[0]}); the ledger is written from what the "
                                     f"run holds, but check what deletes the state location's objects")

    def check_locks(self, max_age: float) -> None:
        """Raise ``LockLost`` (and stop dispatching) when this run no longer holds the lock of a set it is working
        on. A set with nothing to do is not checked: its lock taken away (``cosrecon unlock``) stops no other set's
        work; ``_close`` then leaves its ledger alone and says so."""
        for run in self.runs:
            lock = self.locks.get(run.decl.name)
            if lock is None or not _has_work(run):
                continue
            try:
                lock.check(max_age)
            except LockLost:
                self.stop.set()
                raise

    def _keep_journals(self) -> list[str]:
        """After a failed run: write what each journal holds (best effort; the lock is released by the caller). A
        journal the state location cannot take (a dead endpoint) is kept in a local file; one warning naming it per
        set (also in ``self.warnings``). Once per run: later calls return the same warnings."""
        if self._kept is not None:
            return self._kept
        kept: list[str] = []
        for run in self.runs:
            try:
                run.journal.close()
            except StorageError as error:
                try:
                    path = run.journal.keep_locally(self.options.local_journal_dir)
                except OSError as local:
                    kept.append(f"set {run.decl.name!r}: the journal could not be written ({error.message}), nor "
                                f"kept locally ({local}); the next run re-observes the outputs")
                    continue
                if path is not None:
                    kept.append(f"set {run.decl.name!r}: the journal could not be written to the state location "
                                f"({error.message}); its {len(run.journal.unwritten())} record(s) are kept in {path}. "
                                f"A later run, here or elsewhere, re-observes the outputs, so nothing is made twice")
        self._kept = kept
        self.warnings.extend(kept)
        return kept

    # --- the workers and the attempt helper both engines use ------------------------------------------------

    def dispatch(self, items: Sequence[U], write_intents: Callable[[Sequence[U]], None], work: Callable[[U], None],
                 name: str) -> None:
        """Run ``work`` on every item on ``--parallelism`` workers, in batches: before each batch the locks are
        checked and the batch's intents journaled; nothing more is queued once ``stop`` is set."""
        if not items:
            return
        parallelism = max(1, self.options.parallelism)
        chunk = max(16, min(100, 2 * parallelism))
        gate = threading.Semaphore(parallelism + chunk)

        def done(_: object) -> None:
            gate.release()

        with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix=name) as pool:
            try:
                for start in range(0, len(items), chunk):
                    if self.stop.is_set() or self._out_of_time():
                        break
                    part = items[start:start + chunk]
                    self.check_locks(self.options.lock_check_interval)  # a lost lock stops the run before this batch
                    write_intents(part)
                    for item in part:
                        gate.acquire()
                        if self.stop.is_set() or self._out_of_time():
                            break
                        pool.submit(self._guarded, work, item).add_done_callback(done)
                    if self.stop.is_set():
                        break
            except BaseException:  # Ctrl-C, SIGTERM, a lost lock: queued calls are never issued, and calls in
                self.stop.set()  # flight end after their current attempt (no retry once stopping)
                raise

    def _out_of_time(self) -> bool:
        """Whether dispatching must stop for a time limit (``Engine``: ``--max-duration``); never here."""
        return False

    def _guarded(self, work: Callable[[U], None], item: U) -> None:
        if self.stop.is_set():
            return
        try:
            work(item)
        except BaseException as error:  # a bug, not a COS failure: stop dispatching and re-raise in the caller
            self.crash = error
            self.stop.set()

    def _watched(self, fn: Callable[[], T], bucket: str, key: str) -> T:
        """``fn`` retried, its connection failures counted by the dead-endpoint watch; no attempt once stopping."""
        return self.attempt(fn, bucket, key)

    def attempt(self, fn: Callable[[], T], bucket: str, key: str, *, limiter: TokenBucket | None = None,
                counted: bool = False) -> T:
        """The one attempt helper of the engines: ``fn`` retried per the options (paced by ``limiter``; each try
        counted in the tally when ``counted``), no try once the run is stopping, every failure and success shown to
        the dead-endpoint watch (which may stop the run)."""
        def attempt() -> T:
            if self.stop.is_set():  # a dead endpoint, a lost lock or a signal: no more attempts
                raise StorageError(f"not issued: {self.VERB} was stopping", bucket=bucket, key=key, code="Stopped")
            started = self.watch.clock()
            try:
                result = fn()
            except StorageError as error:
                if self.watch.failure(error, started):
                    self.stop.set()
                raise
            self.watch.success()
            return result

        return with_retries(attempt, self.options.retry, limiter=limiter,
                            on_attempt=(lambda: self.tally.count(attempts=1)) if counted else None)

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


def _has_work(run: SetRun) -> bool:
    """Whether ``run``'s plan makes a call or a delete (what its lock guards during a run)."""
    return bool(run.plan.calls) or any(a.action is ActionKind.DELETE for a in run.others)
