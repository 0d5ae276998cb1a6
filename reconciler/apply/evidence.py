"""Evidence that outputs stand: their ETags as a listing shows them, learnt by listing key ranges (HEAD as fallback).

ProcessResults' ETag may differ from what HEAD and listings show, so the ledger records the latter. One HEAD per
output would cost more requests than the calls themselves; instead outputs are grouped by bucket and folder and each
group's key range is listed; what a sparse range does not find is HEADed. Used by the executor (``Verifier``, for
outputs its calls made) and by adopt. This module must not issue image_process calls, delete, or decide what a
missing output means: callers record, fail or skip.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from reconciler.apply.bookkeeping import SetRun, made_entry
from reconciler.errors import StorageError
from reconciler.state.ledger import JournalRecord
from reconciler.model import Call, RuleOp
from reconciler.pacing import RetryPolicy, with_retries
from reconciler.storage import Storage

if TYPE_CHECKING:
    from reconciler.apply.session import Session

Output = tuple[SetRun, Call, RuleOp]  # an output, the call that makes it and its set's run
Where = tuple[str, str, str]  # region, bucket, folder
PER_PAGE = 20  # outputs a listed page must find on average to be cheaper than HEADs


def folder_of(key: str) -> str:
    """The folder part of ``key`` with its slash ("" at the top)."""
    return key.rsplit("/", 1)[0] + "/" if "/" in key else ""


def list_range(storage: Storage, bucket: str, folder: str, keys: list[str], per_page: int = PER_PAGE) -> dict[str, str]:
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


def by_folder(outputs: Iterable[Output]) -> dict[Where, list[Output]]:
    """``outputs`` grouped by region, bucket and folder, in their order."""
    groups: dict[Where, list[Output]] = {}
    for run, call, op in outputs:
        groups.setdefault((run.decl.region, op.bucket, folder_of(op.key)), []).append((run, call, op))
    return groups


def standing_etag(found: Mapping[str, str], storage: Storage, op: RuleOp, retry: RetryPolicy) -> str | None:
    """The output's ETag: as listed in ``found``, else by HEAD (None: nothing stands there). Raises StorageError."""
    etag = found.get(op.key)
    if etag is not None:
        return etag
    head = with_retries(lambda: storage.head_object(op.bucket, op.key), retry)
    return None if head is None else head.etag


class Verifier:
    """Learns the ETags of outputs made by successful calls, as a listing will show them, and records them.

    Every ``verify_interval`` the outputs made meanwhile are grouped and their key ranges listed (calls run in
    source order, so their outputs are mostly adjacent), on a small pool of its own.
    """

    PER_PAGE = PER_PAGE

    def __init__(self, engine: Session) -> None:
        self.engine = engine
        self._pending: list[tuple[SetRun, Call]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max(2, min(8, engine.options.parallelism // 2)),
                                        thread_name_prefix="verify")
        self._thread = threading.Thread(target=self._loop, name="verify", daemon=True)
        self._thread.start()

    def add(self, run: SetRun, call: Call) -> None:
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
        groups = by_folder((run, call, op) for run, call in items for op in call.rules)
        try:
            for _ in self._pool.map(self._verify_group, groups.items()):
                pass
        except BaseException as error:  # a bug: stop the run, report it
            self.engine.crash = self.engine.crash or error
            self.engine.stop.set()

    def _verify_group(self, group: tuple[Where, list[Output]]) -> None:
        (region, bucket, folder), outputs = group
        storage = self.engine.backend.storage(region)
        tally, watch = self.engine.tally, self.engine.watch
        try:
            found = list_range(storage, bucket, folder, sorted(op.key for _, _, op in outputs), self.PER_PAGE)
        except StorageError as error:  # cannot look: report them (a create's journaled intent settles it later)
            if watch.failure(error):
                self.engine.stop.set()
            for run, call, op in outputs:
                tally.fail(run, op, call.key, error)
            tally.advance(failed=len(outputs))
            return
        by_run: dict[int, tuple[SetRun, list[JournalRecord]]] = {}
        for run, call, op in outputs:
            try:
                if self.engine.stop.is_set() and op.key not in found:  # stopping: no HEAD with retries
                    raise StorageError("not verified: apply was stopping", bucket=op.bucket, key=op.key,
                                       code="Stopped")
                etag = standing_etag(found, storage, op, self.engine.options.retry)
            except StorageError as error:
                if watch.failure(error):
                    self.engine.stop.set()
                tally.fail(run, op, call.key, error)
                tally.advance(failed=1)
                continue
            if etag is None:
                tally.fail(run, op, call.key, None, "image_process succeeded but the output is not there")
                tally.advance(failed=1)
                continue
            entry = made_entry(call, op.bucket, op.key, op.address, op.fingerprint, etag)
            by_run.setdefault(id(run), (run, []))[1].append(JournalRecord.put(entry))
            target = run.target(call, op)
            tally.made(target.action if target else None)
            tally.advance(done=1)
        for run, records in by_run.values():
            run.record(records)
