"""Apply engine: executes a ``model.Plan`` — exactly its image_process calls and prune deletes — crash-safely.

Used by ``cosrecon apply`` and by the Pulumi provider, so nothing here prints, prompts or exits. A bounded worker
pool issues the calls through a token-bucket rate limit, retrying throttling, 5xx and connection errors with
exponential backoff and full jitter (``pacing``). Every output is recorded only with evidence (its ETag as listed or
HEADed after the call, ``evidence``), journaled as it happens and compacted into the set's ledger at the end
(``session``). Intents are journaled before their calls, so a run killed mid-call leaves proof that an object
later found at a planned-missing key is its own. This module must not decide what to do (the plan does), take
shortcuts around the locks, or delete anything the set's ledger does not record as its output.

The names callers import from here (options, report, pacing, locks, ``adopt``) are re-exported from where they live.
"""

from __future__ import annotations

import json
import time
from urllib.parse import quote
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace

from reconciler.apply.canary import check_canary
from reconciler.apply.contract import ApplyOptions, ApplyReport, BackendLike, check_budget
from reconciler.apply.failrate import FailureWindow
from reconciler.apply.ordering import OrderedCalls
from reconciler.apply.timebox import TimeBox, remaining_line
from reconciler.apply.session import Session
from reconciler.apply.bookkeeping import SetRun, made_entry
from reconciler.apply.refusals import is_refusal, refusal_message, split_refused, subcall, verdict
from reconciler.declare.rules import normalise_rule
from reconciler.errors import Aborted, StorageError, UsageError
from reconciler.apply.evidence import Verifier
from reconciler.plan.estimate import call_kind
from reconciler.plan.guard import refusal_summary
from reconciler.apply.stopping import EXIT_SIGINT, EXIT_SIGTERM, RunStopped, Terminated, WorkRemains
from reconciler.state.ledger import JournalRecord
from reconciler.apply.locking import lock_sets
from reconciler.state.locks import HeldLock
from reconciler.model import ActionKind, Call, Declaration, PlannedAction, Plan, Reason
from reconciler.pacing import PACE, TokenBucket
from reconciler.storage import Storage


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
        self.window = FailureWindow(options.max_failure_rate)  # --max-failure-rate over any 100 calls
        self.timebox = TimeBox(options.time_limit, parallelism=options.parallelism, rate=options.max_qps * PACE,
                               ledger_entries=0)
        self.halted = ""  # why dispatching stopped on purpose (time box, failure rate, canary); "" when it did not
        self.halt_code = 1
        self.plan_calls_done = 0  # calls of the plan made (a refused rule's re-issues are not counted again)

    def halt(self, why: str, exit_code: int = 1) -> None:
        """Stop dispatching on purpose: in-flight calls end their current attempt; the run then compacts and
        raises ``RunStopped`` with the report (``run``)."""
        if not self.halted:
            self.halted, self.halt_code = why, exit_code
        self.stop.set()

    def run(self) -> ApplyReport:
        started = time.monotonic()
        self._open()
        self.timebox = TimeBox(self.options.time_limit, parallelism=self.options.parallelism,
                               rate=self.options.max_qps * PACE,
                               ledger_entries=sum(len(r.snapshot.ledger.entries) for r in self.runs))
        total = sum(c.size for r in self.runs for c in r.plan.calls)
        total += sum(r.plan.count(ActionKind.DELETE) for r in self.runs)
        if self.options.progress is not None:
            self.options.progress.start(total)
        try:
            self.verifier = Verifier(self)
            unwritten: StorageError | None = None
            try:
                self._calls()
            except StorageError as error:  # intents not journaled (the state location is unreachable): no call of
                unwritten = error  # that batch was issued; stop, as for a dead endpoint
                self.stop.set()
            finally:
                self.verifier.close()
            if self.watch.tripped or unwritten is not None:  # before a crash: verifying fails too when it is dead
                self._keep_journals()  # a journal the state location cannot take is kept in a local file (warned)
                report = self._report(started, {})
                why = (self.watch.describe() if self.watch.tripped
                       else f"the journal could not be written ({unwritten.message if unwritten else ''})")
                raise RunStopped(f"{why}; stopped with {self._not_attempted(report)} output(s) not attempted. What "
                                 f"was made is journaled where the journal could be written, else kept in the local "
                                 f"file the report names; the next apply goes on from there",
                                 replace(report, stopped=why))
            if self.crash is not None:
                raise self.crash
            for run in self.runs if not self.halted else ():  # deletes only once every call was dispatched
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
        report = self._report(started, self._close())
        if self.halted:
            self._halted_report(report)
        return report

    def _halted_report(self, report: ApplyReport) -> None:
        """Raise the ``RunStopped`` of a run halted on purpose, with what it made and what is left."""
        planned = self.plan.calls
        line = remaining_line(self.plan_calls_done, planned, report.seconds)
        report = replace(report, stopped=self.halted, planned_calls=planned)
        if self.halt_code == WorkRemains.exit_code:
            raise WorkRemains(f"{self.halted}: {line}. Run apply again to go on (no call is repeated)", report)
        raise RunStopped(f"{self.halted}: {line}. What was made is journaled; the next apply goes on from there",
                         report, self.halt_code)

    def _not_attempted(self, report: ApplyReport) -> int:
        planned = sum(c.size for r in self.runs for c in r.plan.calls)
        planned += sum(r.plan.count(ActionKind.DELETE) for r in self.runs)
        done = report.created + report.replaced + report.deleted + report.failed + len(report.skipped)
        return max(0, planned - done)

    # --- image_process calls ---------------------------------------------------------------------

    def _calls(self) -> None:
        items = [item for item in OrderedCalls(self.runs, self.options.order) if self._may_write(*item)]
        first = max(0, self.options.canary)
        if first and items:
            canary, items = items[:first], items[first:]
            self.dispatch(canary, self._write_intents, lambda item: self._call(*item), "apply")
            if not self.stop.is_set():
                self._canary(canary, len(items))
        self.dispatch(items, self._write_intents, lambda item: self._call(*item), "apply")

    def _canary(self, canary: Sequence[tuple[SetRun, Call]], remaining: int) -> None:
        """Check the canary calls' outputs as they stand and hand them to ``ApplyOptions.on_canary``, which may stop
        the run (``Aborted``): then nothing more is dispatched."""
        with self.tally.lock:
            failures = list(self.tally.failures)
        result = check_canary(((run.decl.name, run.decl.region, call) for run, call in canary),
                              self.backend.storage, failures, remaining)
        if self.options.on_canary is None:
            return
        try:
            self.options.on_canary(result)
        except Aborted as refused:
            self.halt(f"stopped after the canary ({refused.headline})")

    def _out_of_time(self) -> bool:
        """Whether ``--max-duration`` leaves no more time to dispatch (the run is then halted, exit 3)."""
        if not self.timebox.due():
            return False
        self.halt("time box reached (--max-duration)", WorkRemains.exit_code)
        return True

    def _may_write(self, run: SetRun, call: Call) -> bool:
        """A call whose rules would overwrite a protected key (another set's source or output, any state prefix)
        is not issued; each of its outputs is reported skipped, with why."""
        why = next((f"{op.bucket}/{op.key} is {reason}" for op in call.rules
                    if (reason := self.guard.protected(run.decl.name, op.bucket, op.key, writing=True))), None)
        if why is None:
            return True
        self.tally.skip_all(run, call.rules, call.key, f"not written: {why}; never overwritten")
        return False

    def _write_intents(self, part: Sequence[tuple[SetRun, Call]]) -> None:
        """Journal, before issuing them, which calls may create outputs at keys the plan found empty."""
        for run in self.runs:
            intents = [JournalRecord.intent(made_entry(call, op.bucket, op.key, op.address, op.fingerprint, ""))
                       for r, call in part if r is run for op in call.rules if run.was_missing(call, op)]
            if intents:
                self._retry(lambda: run.journal.write_now(intents))

    def _call(self, run: SetRun, call: Call) -> None:
        storage = self.backend.storage(run.decl.region)
        tally = self.tally
        if self.options.recheck_sources and not self._source_unchanged(run, call, storage):
            return

        error: StorageError | None = None
        try:
            self._retry_process(storage, call, run)
        except StorageError as failed:
            error = failed
        if error is not None and error.code == "Stopped" and self.timebox.reached:
            return  # never issued, or ended unfinished, as the time box closed: left for the next run, not a failure
        tally.count(calls=1)
        with tally.lock:
            self.plan_calls_done += 1
        tally.advance(calls=1)
        if error is None:
            assert self.verifier is not None
            self.verifier.add(run, call)  # the outputs' ETags are learnt as listing shows them, in batches
            self._count_outcome(False)
            return
        if is_refusal(error):
            self._count_outcome(self._reissue(run, call, storage, error))
            return
        self._count_outcome(error.code != "Stopped")
        records: list[JournalRecord] = []
        made = failed_n = 0
        if self.stop.is_set():  # no evidence-gathering while stopping: the journaled intents settle it next run
            tally.fail_all(run, call.rules, call.key, error)
            return
        for op in call.rules:
            try:
                head = self._watched(lambda: storage.head_object(op.bucket, op.key), op.bucket, op.key)
            except StorageError:  # the HEAD failed too: the call's own error is what is reported
                tally.fail(run, op, call.key, error)
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
                tally.fail(run, op, call.key, error)
                failed_n += 1
        run.record(records)
        tally.advance(done=made, failed=failed_n)

    def _count_outcome(self, failed: bool) -> None:
        """One call's outcome into the ``--max-failure-rate`` window, which may halt the run."""
        if self.window.add(failed):
            self.halt(f"stopped: {self.window.describe()}")

    def _reissue(self, run: SetRun, call: Call, storage: Storage, error: StorageError) -> bool:
        """A call CI refused (``refusals``): its other rules are made in this run, the refused ones reported;
        whether any was refused or failed."""
        def issue(sub: Call) -> StorageError | None:
            try:
                self._retry_process(storage, sub)
            except StorageError as failed:
                return failed
            return None

        split = split_refused(call, error, issue)
        if verdict(error).unprocessable_source:  # the source is no image: recorded, not called again until it changes
            run.record([JournalRecord.unprocessable(call.bucket, call.key, call.source_etag)])
        self.tally.count(calls=split.extra_calls)
        if split.made:
            assert self.verifier is not None
            self.verifier.add(run, subcall(call, split.made))
        for op, why in split.refused:
            message = refusal_message(op, why, split, call.size) if is_refusal(why) else ""
            self.tally.fail(run, op, call.key, why, message)
        for op, why in split.failed:  # a transient failure while splitting: a later apply retries them
            self.tally.fail(run, op, call.key, why)
        self.tally.advance(failed=len(split.refused) + len(split.failed))
        return bool(split.refused or split.failed)

    def _source_unchanged(self, run: SetRun, call: Call, storage: Storage) -> bool:
        """HEAD the source (saved plans): a source that moved or went away since the plan is skipped, reported."""
        tally = self.tally
        try:
            source = self._retry(lambda: storage.head_object(call.bucket, call.key))
        except StorageError as head_failed:
            tally.fail_all(run, call.rules, call.key, head_failed)
            return False
        if source is None or source.etag != call.source_etag:
            why = "source deleted since the plan" if source is None else "source changed since the plan"
            tally.skip_all(run, call.rules, call.key, why)
            return False
        return True

    def _retry_process(self, storage: Storage, call: Call, run: SetRun | None = None) -> None:
        """Issue ``call`` with retries; with ``run``, the request's time of a success is measured into its rates."""
        header = pic_operations(call)

        def timed() -> object:  # each attempt's duration tells the time box how long an in-flight call may take
            started = self.watch.clock()
            began = time.monotonic()
            try:
                result = storage.process(call.bucket, call.key, header)
            finally:
                self.timebox.attempt_took(self.watch.clock() - started)
            if run is not None:  # a success: its request's time, measured into the set's rates
                run.timed(call_kind(call), time.monotonic() - began)
            return result

        self.attempt(timed, call.bucket, call.key, limiter=self.limiter, counted=True)

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
                self.tally.skip_all(run, [action], action.source, f"{why}; never deleted")
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
                        self.tally.fail(run, a, a.source, error)
                    self.tally.advance(failed=len(batch))
                    continue
                run.record([JournalRecord.delete(a.bucket, a.key) for a in batch])
                self.tally.count(deleted=len(batch))
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
