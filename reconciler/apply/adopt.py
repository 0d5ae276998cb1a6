"""Adopt: record the unmanaged objects standing at declared keys as the set's outputs, as they stand.

For ``cosrecon adopt``: nothing is processed, only ETags learnt (``evidence``) and journaled, then
compacted like an apply (``session``). This module must not issue image_process calls or deletes, and adopts
only the outputs a ``replace_unmanaged`` plan marks as replace-unmanaged.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

from reconciler.apply.contract import ApplyOptions, ApplyReport, BackendLike
from reconciler.apply.session import Session
from reconciler.apply.bookkeeping import made_entry
from reconciler.errors import StorageError
from reconciler.apply.evidence import Output, Where, by_folder, list_range, standing_etag
from reconciler.state.ledger import JournalRecord
from reconciler.apply.locking import lock_sets
from reconciler.state.locks import HeldLock
from reconciler.model import Declaration, Plan, Reason


class Adopter(Session):
    """One adopt over the sets of a plan, with the locks held by the caller."""

    def adopt(self) -> ApplyReport:
        started = time.monotonic()
        self._open()
        try:
            groups = by_folder((run, call, op) for run in self.runs for call in run.plan.calls for op in call.rules
                               if (target := run.target(call, op)) is not None
                               and target.reason is Reason.REPLACE_UNMANAGED)
            with ThreadPoolExecutor(max_workers=max(1, self.options.parallelism)) as pool:
                list(pool.map(self._adopt_group, groups.items()))
        except BaseException:
            self._keep_journals()
            raise
        return self._report(started, self._close())

    def _adopt_group(self, group: tuple[Where, list[Output]]) -> None:
        (region, bucket, folder), outputs = group
        storage = self.backend.storage(region)
        found = list_range(storage, bucket, folder, sorted(op.key for _, _, op in outputs))
        for run, call, op in outputs:
            why = self.guard.protected(run.decl.name, op.bucket, op.key, writing=True)
            if why is not None:  # another set's output, a source or state: never taken
                self.tally.skip(run, op, call.key, f"not adopted: {op.bucket}/{op.key} is {why}")
                continue
            try:
                etag = standing_etag(found, storage, op, self.options.retry)
            except StorageError as error:
                self.tally.fail(run, op, call.key, error)
                continue
            if etag is None:
                self.tally.skip(run, op, call.key, "gone")
                continue
            run.record([JournalRecord.put(made_entry(call, op.bucket, op.key, op.address, op.fingerprint, etag))])
            self.tally.count(adopted=1)


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
        return Adopter(plan, set_decls, backend, options, locks).adopt()
