"""Apply engine: executes a ``model.Plan`` — exactly its image_process calls and prune deletes — crash-safely.

Used by ``cosrecon apply`` and by the Pulumi provider, so nothing here prints, prompts or exits. A bounded worker
pool issues the calls through a token-bucket rate limit, retrying throttling, 5xx and connection errors with
exponential backoff and full jitter. Every output is recorded only with evidence (a HEAD after the call), journaled
as it happens and compacted into the set's ledger at the end. Intents are journaled before their calls, so a run
killed mid-call leaves proof that an object later found at a planned-missing key is its own.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Protocol, TypeVar

from reconciler.errors import BudgetExceeded, StalePlanError, StateError, StorageError, UsageError
from reconciler.ledger import JournalRecord
from reconciler.model import ActionKind, Call, Declaration, LedgerEntry, Plan, PlannedAction, Reason, RuleOp, SetPlan
from reconciler.state import HeldLock, Journal, LedgerStore, LockInfo, Snapshot
from reconciler.storage import Storage

T = TypeVar("T")
PACE = 0.95  # fraction of --max-qps actually paced to


class TokenBucket:
    """Paces calls to ``rate`` per second with bursts of ``burst``. Callers reserve a token and sleep outside the
    lock until it is theirs, so concurrent workers are served in arrival order. ``rate`` 0 means unlimited."""

    def __init__(self, rate: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 20)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token; returns how long to wait before using it."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter on retryable errors (throttling, 5xx, connection errors)."""

    attempts: int = 8
    base: float = 0.1
    cap: float = 5.0

    def delay(self, attempt: int, rand: Callable[[float, float], float] = random.uniform) -> float:
        """The pause after failed attempt number ``attempt`` (1-based)."""
        return rand(0.0, min(self.cap, self.base * (2 ** attempt)))


def with_retries(fn: Callable[[], T], policy: RetryPolicy, *, limiter: TokenBucket | None = None,
                 on_attempt: Callable[[], None] | None = None, sleep: Callable[[float], None] = time.sleep) -> T:
    """``fn()``, retried per ``policy`` while it raises a retryable ``StorageError``; the last error is raised."""
    attempt = 0
    while True:
        if limiter is not None:
            limiter.acquire()
        if on_attempt is not None:
            on_attempt()
        try:
            return fn()
        except StorageError as error:
            attempt += 1
            if not error.retryable or attempt >= policy.attempts:
                raise
            sleep(policy.delay(attempt))


class BackendLike(Protocol):
    """What the executor needs of ``backend.Backend``."""

    ledgers: LedgerStore

    def storage(self, region: str) -> Storage: ...


class ProgressSink(Protocol):
    """Receives progress from worker threads (calls are serialised by the executor)."""

    def start(self, total: int) -> None: ...

    def advance(self, *, done: int = 0, failed: int = 0, calls: int = 0) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ApplyOptions:
    parallelism: int = 16
    max_qps: float = 100.0  # 0: no limit
    max_calls: int | None = None
    max_delete: int | None = None
    lock_timeout: float = 0.0
    lease: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    journal_interval: float = 1.0
    journal_batch: int = 100
    check_generation: bool = True  # refuse (StalePlanError) when a set's ledger moved since the plan
    recheck_sources: bool = False  # HEAD each source before its call (saved plans: the plan may be old)
    verify_interval: float = 0.25  # how often made outputs are looked up (their ETags, as listing shows them)
    progress: ProgressSink | None = None
    on_lock_wait: Callable[[str], None] | None = None  # told the holder while waiting for a lock


@dataclass(frozen=True)
class Failure:
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

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else 0.0


def pic_operations(call: Call) -> str:
    """The Pic-Operations header of a call (ASCII-only JSON: raw UTF-8 in headers is fragile)."""
    rules = []
    for op in call.rules:
        rule: dict[str, str] = {"fileid": op.fileid, "rule": op.rule}
        if op.bucket != call.bucket:
            rule["bucket"] = op.bucket
        rules.append(rule)
    return json.dumps({"is_pic_info": 0, "rules": rules}, ensure_ascii=True, separators=(",", ":"))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id() -> str:
    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


def check_budget(plan: Plan, options: ApplyOptions) -> None:
    """Refuse before starting when the plan needs more calls or deletes than allowed."""
    if options.max_calls is not None and plan.calls > options.max_calls:
        raise BudgetExceeded(f"the plan needs {plan.calls} image_process calls; --max-calls allows {options.max_calls}")
    deletes = plan.count(ActionKind.DELETE)
    if options.max_delete is not None and deletes > options.max_delete:
        raise BudgetExceeded(f"the plan deletes {deletes} objects; --max-delete allows {options.max_delete}")


def _lock_waiter(options: ApplyOptions) -> Callable[[LockInfo], None] | None:
    tell = options.on_lock_wait
    if tell is None:
        return None

    def waiting(info: LockInfo) -> None:
        tell(info.describe())

    return waiting


@contextmanager
def lock_sets(decls: Sequence[Declaration], backend: BackendLike, options: ApplyOptions,
              operation: str = "apply") -> Iterator[dict[str, HeldLock]]:
    """Hold every set's lock (taken in name order, so two runs never deadlock)."""
    with ExitStack() as stack:
        held: dict[str, HeldLock] = {}
        for decl in sorted(decls, key=lambda d: d.name):
            lock = backend.ledgers.acquire(decl, timeout=options.lock_timeout, lease=options.lease,
                                           operation=operation, on_wait=_lock_waiter(options))
            held[decl.name] = stack.enter_context(lock)
        yield held


class _SetRun:
    """One set's state during a run: its ledger as it evolves, its journal, its planned actions by key."""

    def __init__(self, decl: Declaration, set_plan: SetPlan, snapshot: Snapshot, journal: Journal) -> None:
        self.decl, self.plan, self.snapshot, self.journal = decl, set_plan, snapshot, journal
        self.entries: dict[tuple[str, str], LedgerEntry] = dict(snapshot.ledger.entries)
        self.actions: dict[tuple[str, str], PlannedAction] = {(a.bucket, a.key): a for a in set_plan.actions}
        self.changed = False
        self.lock = threading.Lock()

    def record(self, records: Sequence[JournalRecord]) -> None:
        if not records:
            return
        with self.lock:
            for r in records:
                if r.op == "put" and r.entry is not None:
                    self.entries[(r.bucket, r.key)] = r.entry
                elif r.op == "delete":
                    self.entries.pop((r.bucket, r.key), None)
            self.changed = True
        self.journal.add(records)

    def was_missing(self, bucket: str, key: str) -> bool:
        action = self.actions.get((bucket, key))
        return action is not None and action.action is ActionKind.CREATE and action.reason is Reason.MISSING


def _folder(key: str) -> str:
    return key.rsplit("/", 1)[0] + "/" if "/" in key else ""


def list_range(storage: Storage, bucket: str, folder: str, keys: list[str], per_page: int = 20) -> dict[str, str]:
    """ETags of ``keys`` (sorted, all in ``folder``) read by listing their key range, as long as each listed page
    finds ``per_page`` of them on average (else HEADs are cheaper); {} for fewer than 3 keys."""
    if len(keys) < 3:
        return {}
    wanted, found = set(keys), {}
    budget = 1000 * max(1, -(-len(keys) // per_page))
    last = keys[-1]
    try:
        for seen, obj in enumerate(storage.list_objects(bucket, folder, start_after=keys[0][:-1]), 1):
            if obj.key > last:
                break
            if obj.key in wanted:
                found[obj.key] = obj.etag
            if seen >= budget:
                break
    except StorageError:
        pass  # the HEADs that follow are the fallback
    return found


class _Verifier:
    """Learns the ETags of outputs made by successful calls, as a listing will show them, and records them.

    ProcessResults' ETag may differ from what HEAD and listings show, so the ledger gets the latter. One HEAD per
    output would cost more requests than the calls themselves; instead, every ``verify_interval`` the outputs made
    meanwhile are grouped by bucket and folder and each group's key range is listed (calls run in source order, so
    their outputs are mostly adjacent). A range that turns out sparse stops early and its rest is HEADed.
    """

    PER_PAGE = 20  # outputs a listed page must find on average to be cheaper than HEADs

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pending: list[tuple[_SetRun, Call]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max(2, min(8, engine.options.parallelism // 2)),
                                        thread_name_prefix="verify")
        self._thread = threading.Thread(target=self._loop, name="verify", daemon=True)
        self._thread.start()

    def add(self, run: _SetRun, call: Call) -> None:
        with self._lock:
            self._pending.append((run, call))

    def _loop(self) -> None:
        while not self._stop.wait(self.engine.options.verify_interval):
            self._drain()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._drain()
        self._pool.shutdown()

    def _drain(self) -> None:
        with self._lock:
            items, self._pending = self._pending, []
        if not items:
            return
        groups: dict[tuple[str, str, str], list[tuple[_SetRun, Call, RuleOp]]] = {}
        for run, call in items:
            for op in call.rules:
                groups.setdefault((run.decl.region, op.bucket, _folder(op.key)), []).append((run, call, op))
        try:
            for _ in self._pool.map(self._verify_group, groups.items()):
                pass
        except BaseException as error:  # a bug: stop the run, report it
            self.engine.crash = self.engine.crash or error
            self.engine.stop.set()

    def _verify_group(self, group: tuple[tuple[str, str, str], list[tuple[_SetRun, Call, RuleOp]]]) -> None:
        (region, bucket, folder), outputs = group
        storage = self.engine.backend.storage(region)
        found = list_range(storage, bucket, folder, sorted(op.key for _, _, op in outputs), self.PER_PAGE)
        by_run: dict[int, tuple[_SetRun, list[JournalRecord]]] = {}
        tally = self.engine.tally
        for run, call, op in outputs:
            etag = found.get(op.key)
            if etag is None:
                try:
                    head = self.engine._retry(lambda: storage.head_object(op.bucket, op.key))
                except StorageError as error:
                    tally.fail(_failure(run, op.address, op.bucket, op.key, call.key, error))
                    tally.advance(failed=1)
                    continue
                if head is None:
                    tally.fail(_failure(run, op.address, op.bucket, op.key, call.key, None,
                                        "image_process succeeded but the output is not there"))
                    tally.advance(failed=1)
                    continue
                etag = head.etag
            entry = self.engine._entry(run, call, op.bucket, op.key, op.address, op.fingerprint, etag)
            by_run.setdefault(id(run), (run, []))[1].append(JournalRecord.put(entry))
            action = run.actions.get((op.bucket, op.key))
            tally.made(action.action if action else None)
            tally.advance(done=1)
        for run, records in by_run.values():
            run.record(records)

class _Tally:
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

    def fail(self, failure: Failure) -> None:
        with self.lock:
            self.failures.append(failure)

    def skip(self, skipped: Skipped) -> None:
        with self.lock:
            self.skipped.append(skipped)

    def advance(self, *, done: int = 0, failed: int = 0, calls: int = 0) -> None:
        if self.progress is not None:
            with self.lock:
                self.progress.advance(done=done, failed=failed, calls=calls)


def _failure(run: _SetRun, address: str, bucket: str, key: str, source: str, error: StorageError | None,
             message: str = "") -> Failure:
    if error is None:
        return Failure(run.decl.name, address, bucket, key, source, "NotMade", message)
    return Failure(run.decl.name, address, bucket, key, source, error.code or "Error",
                   message or error.message, error.request_id, error.status)


def _plain(document: Mapping[str, object]) -> dict[str, object]:
    data: dict[str, object] = json.loads(json.dumps(document, ensure_ascii=False, default=str))
    return data


class Engine:
    """One run over the sets of a plan, with the locks held by the caller."""

    def __init__(self, plan: Plan, decls: Sequence[Declaration], backend: BackendLike, options: ApplyOptions,
                 locks: Mapping[str, HeldLock]) -> None:
        self.plan, self.decls, self.backend, self.options, self.locks = plan, decls, backend, options, locks
        self.run_id = new_run_id()
        # A little under the limit and no burst: no 1-second window ever sees more than --max-qps calls.
        self.limiter = TokenBucket(options.max_qps * PACE, burst=1) if options.max_qps > 0 else None
        self.tally = _Tally(options.progress)
        self.runs: list[_SetRun] = []
        self.stop = threading.Event()
        self.crash: BaseException | None = None
        self.verifier: _Verifier | None = None

    # --- set up and finish -----------------------------------------------------------------------

    def _open(self) -> None:
        store = self.backend.ledgers
        snapshots = []
        for set_plan, decl in zip(self.plan.sets, self.decls):
            snap = store.snapshot(decl)
            if self.options.check_generation and snap.ledger.generation != set_plan.ledger_generation:
                raise StalePlanError(
                    f"set {decl.name!r}: the ledger changed since the plan was made (generation "
                    f"{set_plan.ledger_generation} -> {snap.ledger.generation}); make a new plan")
            snapshots.append(snap)
        for set_plan, decl, snap in zip(self.plan.sets, self.decls, snapshots):
            journal = Journal(store, decl, self.run_id, snap.compacted.generation,
                              interval=self.options.journal_interval, batch=self.options.journal_batch)
            self.runs.append(_SetRun(decl, set_plan, snap, journal))

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
        generations: dict[str, str] = {}
        for run in self.runs:
            document = _plain(run.decl.document)
            old = run.snapshot.ledger
            if not (run.changed or run.snapshot.segment_names or run.journal.names or old.declaration != document):
                generations[run.decl.name] = old.generation
                continue
            ledger = replace(old, entries=dict(run.entries))
            names = list(run.snapshot.segment_names) + run.journal.names
            new = self._retry(lambda: self.backend.ledgers.compact(run.decl, ledger, document, names))
            generations[run.decl.name] = new.generation
        return generations

    def _retry(self, fn: Callable[[], T], limiter: TokenBucket | None = None) -> T:
        return with_retries(fn, self.options.retry, limiter=limiter)

    def _report(self, started: float, generations: dict[str, str]) -> ApplyReport:
        t = self.tally
        takeovers = tuple(f"set {name!r}: took over {lock.took_over.describe()}"
                          for name, lock in sorted(self.locks.items()) if lock.took_over is not None)
        return ApplyReport(created=t.created, replaced=t.replaced, deleted=t.deleted, adopted=t.adopted,
                           failures=tuple(t.failures), skipped=tuple(t.skipped), calls=t.calls, attempts=t.attempts,
                           seconds=time.monotonic() - started, takeovers=takeovers, generations=generations)

    def run(self) -> ApplyReport:
        started = time.monotonic()
        self._open()
        total = sum(len(c.rules) for r in self.runs for c in r.plan.calls)
        total += sum(1 for r in self.runs for a in r.plan.actions if a.action is ActionKind.DELETE)
        if self.options.progress is not None:
            self.options.progress.start(total)
        try:
            self.verifier = _Verifier(self)
            try:
                self._calls()
            finally:
                self.verifier.close()
            if self.crash is not None:
                raise self.crash
            for run in self.runs:
                self._deletes(run)
                self._forget_gone(run)
        except BaseException:
            self.stop.set()
            for run in self.runs:  # keep what was made; the lock is released by the caller
                try:
                    run.journal.close()
                except StorageError:
                    pass
            raise
        finally:
            if self.options.progress is not None:
                self.options.progress.close()
        return self._report(started, self._close())

    # --- image_process calls ---------------------------------------------------------------------

    def _calls(self) -> None:
        items = [(run, call) for run in self.runs for call in run.plan.calls]
        if not items:
            return
        parallelism = max(1, self.options.parallelism)
        chunk = max(16, min(100, 2 * parallelism))
        gate = threading.Semaphore(parallelism + chunk)

        def done(_: object) -> None:
            gate.release()

        with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="apply") as pool:
            for start in range(0, len(items), chunk):
                part = items[start:start + chunk]
                self._write_intents(part)
                for run, call in part:
                    gate.acquire()
                    if self.stop.is_set():
                        break
                    pool.submit(self._guarded_call, run, call).add_done_callback(done)
                if self.stop.is_set():
                    break

    def _write_intents(self, part: Sequence[tuple[_SetRun, Call]]) -> None:
        """Journal, before issuing them, which calls may create outputs at keys the plan found empty."""
        for run in self.runs:
            intents = [JournalRecord.intent(self._entry(run, call, op.bucket, op.key, op.address, op.fingerprint, ""))
                       for r, call in part if r is run for op in call.rules if run.was_missing(op.bucket, op.key)]
            if intents:
                self._retry(lambda: run.journal.write_now(intents))

    def _guarded_call(self, run: _SetRun, call: Call) -> None:
        if self.stop.is_set():
            return
        try:
            self._call(run, call)
        except BaseException as error:  # a bug, not a COS failure: stop dispatching and re-raise in the caller
            self.crash = error
            self.stop.set()

    @staticmethod
    def _entry(run: _SetRun, call: Call, bucket: str, key: str, address: str, fingerprint: str,
               etag: str) -> LedgerEntry:
        return LedgerEntry(bucket=bucket, key=key, address=address, source_key=call.key, source_etag=call.source_etag,
                           fingerprint=fingerprint, output_etag=etag, made_at=_now())

    def _call(self, run: _SetRun, call: Call) -> None:
        storage = self.backend.storage(run.decl.region)
        tally, n = self.tally, len(call.rules)
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
        records: list[JournalRecord] = []
        made = failed_n = 0
        for op in call.rules:
            try:
                head = self._retry(lambda: storage.head_object(op.bucket, op.key))
            except StorageError as head_error:
                tally.fail(_failure(run, op.address, op.bucket, op.key, call.key, error))
                failed_n += 1
                continue
            # A failed call may have written its earlier rules' outputs. Evidence that one is ours: an object now
            # standing where the plan found nothing. Anything else is left for the next plan to judge.
            if head is not None and run.was_missing(op.bucket, op.key):
                records.append(JournalRecord.put(
                    self._entry(run, call, op.bucket, op.key, op.address, op.fingerprint, head.etag)))
                tally.made(ActionKind.CREATE)
                made += 1
            else:
                tally.fail(_failure(run, op.address, op.bucket, op.key, call.key, error))
                failed_n += 1
        run.record(records)
        tally.advance(done=made, failed=failed_n)

    def _source_unchanged(self, run: _SetRun, call: Call, storage: Storage) -> bool:
        """HEAD the source (saved plans): a source that moved or went away since the plan is skipped, reported."""
        tally, n = self.tally, len(call.rules)
        try:
            source = self._retry(lambda: storage.head_object(call.bucket, call.key))
        except StorageError as head_failed:
            for op in call.rules:
                tally.fail(_failure(run, op.address, op.bucket, op.key, call.key, head_failed))
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
        with_retries(lambda: storage.process(call.bucket, call.key, header), self.options.retry,
                     limiter=self.limiter, on_attempt=on_attempt)

    # --- prune -----------------------------------------------------------------------------------

    def _deletes(self, run: _SetRun) -> None:
        """Delete the plan's prune targets — only objects this set's ledger records as its outputs."""
        by_bucket: dict[str, list[PlannedAction]] = {}
        for action in run.plan.actions:
            if action.action is not ActionKind.DELETE:
                continue
            if (action.bucket, action.key) not in run.entries:
                self.tally.skip(Skipped(run.decl.name, action.address, action.bucket, action.key, action.source,
                                        "not recorded as this set's output; never deleted"))
                self.tally.advance(done=1)
                continue
            by_bucket.setdefault(action.bucket, []).append(action)
        storage = self.backend.storage(run.decl.region)
        for bucket, actions in sorted(by_bucket.items()):
            for start in range(0, len(actions), 1000):
                batch = actions[start:start + 1000]
                try:
                    self._retry(lambda: storage.delete_objects(bucket, [a.key for a in batch]))
                except StorageError as error:
                    for a in batch:
                        self.tally.fail(_failure(run, a.address, a.bucket, a.key, a.source, error))
                    self.tally.advance(failed=len(batch))
                    continue
                run.record([JournalRecord.delete(a.bucket, a.key) for a in batch])
                with self.tally.lock:
                    self.tally.deleted += len(batch)
                self.tally.advance(done=len(batch))

    def _forget_gone(self, run: _SetRun) -> None:
        """Recorded outputs no longer declared whose object is gone too: nothing to keep a record of."""
        gone = [JournalRecord.delete(a.bucket, a.key) for a in run.plan.actions
                if a.action is ActionKind.ORPHANED and a.reason is Reason.OUTPUT_GONE
                and (a.bucket, a.key) in run.entries]
        run.record(gone)

    # --- adopt -----------------------------------------------------------------------------------

    def adopt(self) -> ApplyReport:
        started = time.monotonic()
        self._open()
        try:
            groups: dict[tuple[str, str, str], list[tuple[_SetRun, Call, RuleOp]]] = {}
            for run in self.runs:
                for call in run.plan.calls:
                    for op in call.rules:
                        action = run.actions.get((op.bucket, op.key))
                        if action is not None and action.reason is Reason.REPLACE_UNMANAGED:
                            key = (run.decl.region, op.bucket, _folder(op.key))
                            groups.setdefault(key, []).append((run, call, op))

            def adopt_group(item: tuple[tuple[str, str, str], list[tuple[_SetRun, Call, RuleOp]]]) -> None:
                (region, bucket, folder), outputs = item
                storage = self.backend.storage(region)
                found = list_range(storage, bucket, folder, sorted(op.key for _, _, op in outputs))
                for run, call, op in outputs:
                    etag = found.get(op.key)
                    if etag is None:
                        try:
                            head = self._retry(lambda: storage.head_object(op.bucket, op.key))
                        except StorageError as error:
                            self.tally.fail(_failure(run, op.address, op.bucket, op.key, call.key, error))
                            continue
                        if head is None:
                            self.tally.skip(Skipped(run.decl.name, op.address, op.bucket, op.key, call.key, "gone"))
                            continue
                        etag = head.etag
                    run.record([JournalRecord.put(
                        self._entry(run, call, op.bucket, op.key, op.address, op.fingerprint, etag))])
                    with self.tally.lock:
                        self.tally.adopted += 1

            with ThreadPoolExecutor(max_workers=max(1, self.options.parallelism)) as pool:
                list(pool.map(adopt_group, groups.items()))
        except BaseException:
            for run in self.runs:
                try:
                    run.journal.close()
                except StorageError:
                    pass
            raise
        return self._report(started, self._close())


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


def adopt(plan: Plan, decls: Sequence[Declaration], backend: BackendLike, options: ApplyOptions = ApplyOptions(),
          *, locks: Mapping[str, HeldLock] | None = None) -> ApplyReport:
    """Record the unmanaged objects standing at declared keys, as they stand, without processing anything.

    ``plan`` must be made with ``replace_unmanaged=True``: its replace-unmanaged rules say which source, ETag and
    fingerprint each such output belongs to."""
    by_name = {d.name: d for d in decls}
    set_decls = [by_name[s.name] for s in plan.sets if s.name in by_name]
    with ExitStack() as stack:
        if locks is None:
            locks = stack.enter_context(lock_sets(set_decls, backend, options, operation="adopt"))
        return Engine(plan, set_decls, backend, options, locks).adopt()
