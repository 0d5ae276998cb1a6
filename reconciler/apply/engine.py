"""Apply engine: executes a ``model.Plan`` — exactly its image_process calls and prune deletes — crash-safely.

Used by ``cosrecon apply`` and by the Pulumi provider, so nothing here prints, prompts or exits. A bounded worker
pool issues the calls through a token-bucket rate limit, retrying throttling, 5xx and connection errors with
exponential backoff and full jitter (``pacing``). Every output is recorded only with evidence (its ETag as listed or
HEADed after the call, ``evidence``), journaled as it happens and compacted into the set's ledger at the end
(``apply_session``). Intents are journaled before their calls, so a run killed mid-call leaves proof that an object
later found at a planned-missing key is its own. This module must not decide what to do (the plan does), take
shortcuts around the locks, or delete anything the set's ledger does not record as its output.

The names callers import from here (options, report, pacing, locks, ``adopt``) are re-exported from where they live.
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import quote
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace

from reconciler.apply.contract import ApplyOptions, ApplyReport, BackendLike, Skipped, check_budget
from reconciler.apply.session import Session
from reconciler.apply.bookkeeping import SetRun, failure, made_entry
from reconciler.apply.refusals import is_refusal, refusal_message, split_refused, subcall
from reconciler.declare.rules import normalise_rule
from reconciler.errors import StorageError, UsageError
from reconciler.apply.evidence import Verifier
from reconciler.plan.guard import refusal_summary
from reconciler.apply.stopping import EXIT_SIGINT, EXIT_SIGTERM, RunStopped, Terminated
from reconciler.state.ledger import JournalRecord
from reconciler.apply.locking import lock_sets
from reconciler.state.locks import HeldLock
from reconciler.model import ActionKind, Call, Declaration, PlannedAction, Plan, Reason
from reconciler.pacing import PACE, TokenBucket, with_retries
from reconciler.storage import Storage

T = TypeVar("T")
U = TypeVar("U")



def pic_operations(call: Call) -> str:
    """The Pic-Operations header of a call (ASCII-only JSON: raw UTF-8 in headers is fragile). The fileid is
    URL-encoded, as CI requires (zh 1045/73025), and the rule is sent as validated and fingerprinted. An output
    that overwrites its source is sent as ``"/" + key``: the relative rule (relative to the source's folder) and the
    overwrite rule ("set fileid to the ObjectKey") disagree for a nested key, and "/" + key means the source under
    both. Only the fileid SENT changes: the fingerprint keeps the declared template, so nothing is remade."""
    rules = []
    for op in call.rules:
        fileid = "/" + op.key if (op.bucket, op.key) == (call.bucket, call.key) else op.fileid
        rule: dict[str, str] = {"fileid": quote(fileid, safe="/"), "rule": normalise_rule(op.rule)}
        if op.bucket != call.bucket:
            rule["bucket"] = op.bucket
        rules.append(rule)
    return json.dumps({"is_pic_info": 0, "rules": rules}, ensure_ascii=True, separators=(",", ":"))


class Engine(Session):
    """One apply over the sets of a plan, with the locks held by the caller: calls, then prune deletes."""

    def __init__(self, plan: Plan, decls: Sequence[Declaration], backend: BackendLike, options: ApplyOptions,
                 locks: Mapping[str, HeldLock]) -> None:
        super().__init__(plan, decls, backend, options, locks)
        # A little under the limit and no burst: no 1-second window ever sees more than --max-qps calls.
        self.limiter = TokenBucket(options.max_qps * PACE, burst=1) if options.max_qps > 0 else None
        self.verifier: Verifier | None = None

    def run(self) -> ApplyReport:
        started = time.monotonic()
        self._open()
        total = sum(c.size for r in self.runs for c in r.plan.calls)
        total += sum(r.plan.count(ActionKind.DELETE) for r in self.runs)
        if self.options.progress is not None:
            self.options.progress.start(total)
        try:
            self.verifier = Verifier(self)
            try:
                self._calls()
            finally:
                self.verifier.close()
            if self.watch.tripped:  # before a crash: verifying outputs fails too when the endpoint is dead
                report = self._report(started, {})
                raise RunStopped(f"{self.watch.describe()}; stopped with {self._not_attempted(report)} output(s) not "
                                 f"attempted. What was made is journaled where the journal could be written; the next "
                                 f"apply goes on from there", replace(report, stopped=self.watch.describe()))
            if self.crash is not None:
                raise self.crash
            for run in self.runs:
                if any(a.action is ActionKind.DELETE for a in run.others):
                    self.check_locks(0.0)
                self._deletes(run)
                self._forget_gone(run)
        except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM (``Terminated``): in-flight calls have finished
            self.stop.set()
            self._keep_journals()
            signal = ("SIGTERM", EXIT_SIGTERM) if isinstance(interrupt, Terminated) else ("Ctrl-C", EXIT_SIGINT)
            report = self._report(started, {})
            raise RunStopped(f"interrupted ({signal[0]}): stopped dispatching with {self._not_attempted(report)} "
                             f"output(s) not attempted; what was made is journaled and the next apply goes on from "
                             f"there", replace(report, stopped=signal[0]), signal[1]) from None
        except BaseException:
            self.stop.set()
            self._keep_journals()
            raise
        finally:
            if self.options.progress is not None:
                self.options.progress.close()
        return self._report(started, self._close())

    def _not_attempted(self, report: ApplyReport) -> int:
        planned = sum(c.size for r in self.runs for c in r.plan.calls)
        planned += sum(r.plan.count(ActionKind.DELETE) for r in self.runs)
        done = report.created + report.replaced + report.deleted + report.failed + len(report.skipped)
        return max(0, planned - done)

    # --- image_process calls ---------------------------------------------------------------------

    def _calls(self) -> None:
        items = [(run, call) for run in self.runs for call in run.plan.calls if self._may_write(run, call)]
        self.dispatch(items, self._write_intents, lambda item: self._call(*item), "apply")

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
                    if self.stop.is_set():
                        break
                    part = items[start:start + chunk]
                    self.check_locks(self.options.lock_check_interval)  # a lost lock stops the run before this batch
                    write_intents(part)
                    for item in part:
                        gate.acquire()
                        if self.stop.is_set():
                            break
                        pool.submit(self._guarded, work, item).add_done_callback(done)
                    if self.stop.is_set():
                        break
            except BaseException:  # Ctrl-C, SIGTERM, a lost lock: queued calls are never issued, and calls in
                self.stop.set()  # flight end after their current attempt (no retry once stopping)
                raise

    def _may_write(self, run: SetRun, call: Call) -> bool:
        """A call whose rules would overwrite a protected key (another set's source or output, any state prefix)
        is not issued; each of its outputs is reported skipped, with why."""
        why = next((f"{op.bucket}/{op.key} is {reason}" for op in call.rules
                    if (reason := self.guard.protected(run.decl.name, op.bucket, op.key, writing=True))), None)
        if why is None:
            return True
        for op in call.rules:
            self.tally.skip(Skipped(run.decl.name, op.address, op.bucket, op.key, call.key,
                                    f"not written: {why}; never overwritten"))
        self.tally.advance(done=call.size)
        return False

    def _write_intents(self, part: Sequence[tuple[SetRun, Call]]) -> None:
        """Journal, before issuing them, which calls may create outputs at keys the plan found empty."""
        for run in self.runs:
            intents = [JournalRecord.intent(made_entry(call, op.bucket, op.key, op.address, op.fingerprint, ""))
                       for r, call in part if r is run for op in call.rules if run.was_missing(call, op)]
            if intents:
                self._retry(lambda: run.journal.write_now(intents))

    def _guarded(self, work: Callable[[U], None], item: U) -> None:
        if self.stop.is_set():
            return
        try:
            work(item)
        except BaseException as error:  # a bug, not a COS failure: stop dispatching and re-raise in the caller
            self.crash = error
            self.stop.set()

    def _call(self, run: SetRun, call: Call) -> None:
        storage = self.backend.storage(run.decl.region)
        tally = self.tally
        if self.options.recheck_sources and not self._source_unchanged(run, call, storage):
            return

        def count_attempt() -> None:
            with tally.lock:
                tally.attempts += 1

        error: StorageError | None = None
        try:
            self._retry_process(storage, call, count_attempt)
        except StorageError as failed:
            error = failed
        with tally.lock:
            tally.calls += 1
        tally.advance(calls=1)
        if error is None:
            assert self.verifier is not None
            self.verifier.add(run, call)  # the outputs' ETags are learnt as listing shows them, in batches
            return
        if is_refusal(error):
            self._reissue(run, call, storage, error, count_attempt)
            return
        records: list[JournalRecord] = []
        made = failed_n = 0
        if self.stop.is_set():  # no evidence-gathering while stopping: the journaled intents settle it next run
            for op in call.rules:
                tally.fail(failure(run, op.address, op.bucket, op.key, call.key, error))
            tally.advance(failed=call.size)
            return
        for op in call.rules:
            try:
                head = self._watched(lambda: storage.head_object(op.bucket, op.key), op.bucket, op.key)
            except StorageError:  # the HEAD failed too: the call's own error is what is reported
                tally.fail(failure(run, op.address, op.bucket, op.key, call.key, error))
                failed_n += 1
                continue
            # A failed call may have written its earlier rules' outputs. Evidence that one is ours: an object now
            # standing where the plan found nothing. Anything else is left for the next plan to judge.
            if head is not None and run.was_missing(call, op):
                records.append(JournalRecord.put(
                    made_entry(call, op.bucket, op.key, op.address, op.fingerprint, head.etag)))
                tally.made(ActionKind.CREATE)
                made += 1
            else:
                tally.fail(failure(run, op.address, op.bucket, op.key, call.key, error))
                failed_n += 1
        run.record(records)
        tally.advance(done=made, failed=failed_n)

    def _watched(self, fn: Callable[[], T], bucket: str, key: str) -> T:
        """``fn`` retried, its connection failures counted by the dead-endpoint watch; no attempt once stopping."""
        def attempt() -> T:
            if self.stop.is_set():
                raise StorageError("not issued: apply was stopping", bucket=bucket, key=key, code="Stopped")
            started = self.watch.clock()
            try:
                result = fn()
            except StorageError as error:
                if self.watch.failure(error, started):
                    self.stop.set()
                raise
            self.watch.success()
            return result

        return with_retries(attempt, self.options.retry)

    def _reissue(self, run: SetRun, call: Call, storage: Storage, error: StorageError,
                 on_attempt: Callable[[], None]) -> None:
        """A call CI refused (``refusals``): its other rules are made in this run, the refused ones reported."""
        def issue(sub: Call) -> StorageError | None:
            try:
                self._retry_process(storage, sub, on_attempt)
            except StorageError as failed:
                return failed
            return None

        split = split_refused(call, error, issue)
        with self.tally.lock:
            self.tally.calls += split.extra_calls
        if split.made:
            assert self.verifier is not None
            self.verifier.add(run, subcall(call, split.made))
        for op, why in split.refused:
            message = refusal_message(op, why, split, call.size) if is_refusal(why) else ""
            self.tally.fail(failure(run, op.address, op.bucket, op.key, call.key, why, message))
        for op, why in split.failed:  # a transient failure while splitting: a later apply retries them
            self.tally.fail(failure(run, op.address, op.bucket, op.key, call.key, why))
        self.tally.advance(failed=len(split.refused) + len(split.failed))

    def _source_unchanged(self, run: SetRun, call: Call, storage: Storage) -> bool:
        """HEAD the source (saved plans): a source that moved or went away since the plan is skipped, reported."""
        tally, n = self.tally, call.size
        try:
            source = self._retry(lambda: storage.head_object(call.bucket, call.key))
        except StorageError as head_failed:
            for op in call.rules:
                tally.fail(failure(run, op.address, op.bucket, op.key, call.key, head_failed))
            tally.advance(failed=n)
            return False
        if source is None or source.etag != call.source_etag:
            why = "source deleted since the plan" if source is None else "source changed since the plan"
            for op in call.rules:
                tally.skip(Skipped(run.decl.name, op.address, op.bucket, op.key, call.key, why))
            tally.advance(done=n)
            return False
        return True

    def _retry_process(self, storage: Storage, call: Call, on_attempt: Callable[[], None]) -> None:
        header = pic_operations(call)

        def attempt() -> None:
            if self.stop.is_set():  # a dead endpoint, a lost lock or a signal: no more attempts
                raise StorageError("not issued: apply was stopping", bucket=call.bucket, key=call.key, code="Stopped")
            started = self.watch.clock()
            try:
                storage.process(call.bucket, call.key, header)
            except StorageError as error:
                if self.watch.failure(error, started):
                    self.stop.set()
                raise
            self.watch.success()

        with_retries(attempt, self.options.retry, limiter=self.limiter, on_attempt=on_attempt)

    # --- prune -----------------------------------------------------------------------------------

    def _deletes(self, run: SetRun) -> None:
        """Delete the plan's prune targets — only objects this set's ledger records as its outputs."""
        by_bucket: dict[str, list[PlannedAction]] = {}
        unwritable = 0
        for action in run.others:
            if action.action is not ActionKind.DELETE:
                continue
            why = self._why_not_delete(run, action)
            if why is not None:
                unwritable += why.startswith("no output or retired: entry")
                self.tally.skip(Skipped(run.decl.name, action.address, action.bucket, action.key, action.source,
                                        f"{why}; never deleted"))
                self.tally.advance(done=1)
                continue
            by_bucket.setdefault(action.bucket, []).append(action)
        if unwritable:
            self.warnings.append(refusal_summary(run.decl.name, unwritable))
        storage = self.backend.storage(run.decl.region)
        for bucket, actions in sorted(by_bucket.items()):
            for start in range(0, len(actions), 1000):
                batch = actions[start:start + 1000]
                try:
                    self._retry(lambda: storage.delete_objects(bucket, [a.key for a in batch]))
                except StorageError as error:
                    for a in batch:
                        self.tally.fail(failure(run, a.address, a.bucket, a.key, a.source, error))
                    self.tally.advance(failed=len(batch))
                    continue
                run.record([JournalRecord.delete(a.bucket, a.key) for a in batch])
                with self.tally.lock:
                    self.tally.deleted += len(batch)
                self.tally.advance(done=len(batch))

    def _why_not_delete(self, run: SetRun, action: PlannedAction) -> str | None:
        """Why a planned delete is refused (None: it may go): only a recorded output this set could have written,
        and never a protected key (``guard``)."""
        where = (action.bucket, action.key)
        if where not in run.entries:
            return "not recorded as this set's output"
        entry = run.entries[where]
        if not self.guard.could_have_written(run.decl, entry):
            return "no output or retired: entry of the declaration could have written it (ledger entry not trusted)"
        return self.guard.protected(run.decl.name, action.bucket, action.key)

    def _forget_gone(self, run: SetRun) -> None:
        """Recorded outputs no longer declared whose object is gone too: nothing to keep a record of."""
        gone = [JournalRecord.delete(a.bucket, a.key) for a in run.others
                if a.action is ActionKind.ORPHANED and a.reason is Reason.OUTPUT_GONE
                and (a.bucket, a.key) in run.entries]
        run.record(gone)


def apply_plan(plan: Plan, decls: Sequence[Declaration], backend: BackendLike, options: ApplyOptions = ApplyOptions(),
               *, locks: Mapping[str, HeldLock] | None = None) -> ApplyReport:
    """Execute ``plan``. Holds each set's lock (taking it unless ``locks`` are given), refuses a stale plan,
    issues the calls and deletes, journals, compacts. Failures of single calls are in the report, not raised."""
    check_budget(plan, options)
    by_name = {d.name: d for d in decls}
    missing = [s.name for s in plan.sets if s.name not in by_name]
    if missing:
        raise UsageError(f"the plan covers set(s) {', '.join(missing)} but no declaration of that name was given")
    set_decls = [by_name[s.name] for s in plan.sets]
    with ExitStack() as stack:
        if locks is None:
            locks = stack.enter_context(lock_sets(set_decls, backend, options))
        return Engine(plan, set_decls, backend, options, locks).run()
