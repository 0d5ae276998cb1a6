"""``cosrecon preview``'s operation: sample results of a plan's rules, by processing during download — nothing is
stored.

For every output address the plan would create or replace, a few sample sources are chosen (``plan.samples``) and
the declared rule is run on each with ``GET /<key>?<rule>`` (the seed document's first method, processing during download). For a replaced output,
what stands today at its key is fetched too (the "before"). Every request is paced by one ``TokenBucket`` at
``max_qps``; ``sample`` bounds their number. Nothing is written to any bucket; images go to ``out`` on disk.

A rule the service refuses to process during download (a 4xx such as InvalidArgument or NotImplemented) is named
with the service's message and skipped; a transient failure (throttling, 5xx, a dead connection) is retried, then
reported for that sample.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from reconciler.errors import StateError, StorageError
from reconciler.model import Declaration, Plan
from reconciler.observe.imagefacts import facts_of
from reconciler.ops.compose import Connection, connect
from reconciler.pacing import RetryPolicy, TokenBucket, with_retries
from reconciler.plan.observed import plan_declarations
from reconciler.plan.scope import ScopeRequest
from reconciler.plan.samples import (AddressPreview, Candidate, Preview, Sample, Shot, candidates_of,
                                     choose_samples)
from reconciler.storage import Storage


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "_"


class Previewer:
    """Fetches the samples of one plan; ``storage_for(region)`` gives the storage of a region."""

    def __init__(self, storage_for: Callable[[str], Storage], out: Path, *, max_qps: float,
                 retry: RetryPolicy = RetryPolicy(attempts=4)) -> None:
        self.storage_for, self.out, self.retry = storage_for, out, retry
        self.limiter = TokenBucket(max_qps, burst=1) if max_qps > 0 else None
        self.requests = self.downloads = 0

    def _paced(self, fn: Callable[[], bytes]) -> bytes:
        def attempt() -> bytes:
            if self.limiter is not None:
                self.limiter.acquire()
            return fn()

        return with_retries(attempt, self.retry)

    def _write(self, relative: str, data: bytes) -> Shot:
        path = self.out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return Shot(relative, facts_of(data))

    def sample(self, decl: Declaration, address: str, n: int, candidates: Sequence[Candidate]) -> AddressPreview:
        storage = self.storage_for(decl.region)
        folder = f"{_safe(decl.name)}/{_safe(address)}"
        shots: list[Sample] = []
        chosen = choose_samples(candidates, n)
        for i, c in enumerate(chosen):
            try:
                self.requests += 1
                data = self._paced(lambda: storage.process_download(decl.bucket, c.source, c.rule))
            except StorageError as error:
                if error.status and 400 <= error.status < 500 and error.status not in (403, 404, 429):
                    return AddressPreview(decl.name, address, c.rule, _action(c), len(candidates), tuple(shots),
                                          skipped=error.detail or str(error))
                shots.append(Sample(address, c.source, c.output_key, None, None, f"after: {error}"))
                continue
            after = self._write(f"{folder}/{i + 1}-after.{facts_of(data).format}", data)
            before, error_text = None, ""
            if c.replace:
                try:
                    self.downloads += 1
                    old = self._paced(lambda: storage.get_object(c.output_bucket, c.output_key))
                    before = self._write(f"{folder}/{i + 1}-before.{facts_of(old).format}", old)
                except StorageError as error:
                    error_text = f"before: {error}"
            shots.append(Sample(address, c.source, c.output_key, after, before, error_text, c.size or 0))
        return AddressPreview(decl.name, address, chosen[0].rule if chosen else "", _action(chosen[0]) if chosen
                              else "create", len(candidates), tuple(shots))


def _action(c: Candidate) -> str:
    return "replace" if c.replace else "create"


def preview_plan(plan: Plan, decls: Sequence[Declaration], previewer: Previewer, *, samples: int) -> Preview:
    """Sample every output address of ``plan`` that would be created or replaced."""
    found: list[AddressPreview] = []
    for set_plan, decl in zip(plan.sets, decls):
        for address, candidates in sorted(candidates_of(set_plan).items()):
            found.append(previewer.sample(decl, address, samples, candidates))
    return Preview(tuple(found), previewer.requests, previewer.downloads)


def preview(decls: Sequence[Declaration], connection: Connection, out: Path, *, samples: int,
            max_qps: float, scope: ScopeRequest = ScopeRequest(),
            notes: Callable[[str], None] = lambda _: None) -> tuple[Plan, Preview]:
    """Plan ``decls`` (no lock, no write; ``scope``: --inventory) and sample what would be created or replaced into
    ``out``; ``notes`` is given each line saying which buckets were read from which report."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StateError(f"{out}: cannot create the preview folder ({error.strerror or error})") from None
    with connect(connection, decls) as backend:
        opened = scope.open(backend.storage, decls)
        for note in opened.notes():
            notes(note)
        plan = plan_declarations(decls, backend, prune=False, replace_unmanaged=False, scope=opened)
        previewer = Previewer(backend.storage, out, max_qps=max_qps)
        return plan, preview_plan(plan, decls, previewer, samples=samples)
