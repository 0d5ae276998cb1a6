"""``cosrecon preview``: sample results of a plan's rules, by processing during download — nothing is stored.

For every output address the plan would create or replace, a few sample sources are chosen (``choose_samples``:
deterministic, spread over the sizes and formats present, the largest included) and the declared rule is run on each
with ``GET /<key>?<rule>`` (the seed document's first method, processing during download). For a replaced output,
what stands today at its key is fetched too (the "before"). Every request is paced by one ``TokenBucket`` at
``max_qps``; ``sample`` bounds their number. Nothing is written to any bucket; images go to ``out`` on disk.

A rule the service refuses to process during download (a 4xx such as InvalidArgument or NotImplemented) is named
with the service's message and skipped; a transient failure (throttling, 5xx, a dead connection) is retried, then
reported for that sample.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import StorageError
from reconciler.model import ActionKind, Declaration, Plan, SetPlan
from reconciler.observe.imagefacts import ImageFacts, facts_of
from reconciler.pacing import RetryPolicy, TokenBucket, with_retries
from reconciler.storage import Storage

DEFAULT_SAMPLES = 3


@dataclass(frozen=True)
class Candidate:
    """A source an output address would be made from, and the output that stands for it (replace)."""

    source: str
    size: int | None  # None when the plan does not know it
    output_bucket: str
    output_key: str
    rule: str
    replace: bool


@dataclass(frozen=True)
class Shot:
    """One fetched image: where it was written (relative to ``out``) and what it is."""

    path: str
    facts: ImageFacts


@dataclass(frozen=True)
class Sample:
    """One sample of an output address: the source, its "after" (processed now) and its "before" (standing)."""

    address: str
    source: str
    output_key: str
    after: Shot | None
    before: Shot | None
    error: str = ""  # why "after" (or "before") is missing
    source_size: int = 0  # 0 when the plan does not know it


@dataclass(frozen=True)
class AddressPreview:
    set_name: str
    address: str
    rule: str
    action: str  # "create" or "replace"
    candidates: int
    samples: tuple[Sample, ...]
    skipped: str = ""  # the service's reason when the rule cannot be processed during download

    @property
    def size_ratio(self) -> float | None:
        """Mean size of "after" over its source's size, for the estimate (None when nothing was measured)."""
        ratios = [s.after.facts.size / s.source_size for s in self.samples if s.after is not None and s.source_size]
        return sum(ratios) / len(ratios) if ratios else None


@dataclass(frozen=True)
class Preview:
    addresses: tuple[AddressPreview, ...]
    requests: int  # processing-during-download requests made
    downloads: int  # plain GETs of standing outputs


def _order(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _format(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def choose_samples(candidates: Sequence[Candidate], n: int) -> list[Candidate]:
    """PURE: ``n`` candidates, deterministic: the largest first, then spread evenly over the sizes present while
    taking each format in turn; sizes unknown: a stable hash order, formats in turn."""
    if n <= 0 or not candidates:
        return []
    known = all(c.size is not None for c in candidates)
    ordered = sorted(candidates, key=(lambda c: (-(c.size or 0), c.source)) if known else (lambda c: _order(c.source)))
    chosen = [ordered[0]]
    by_format: dict[str, list[Candidate]] = {}
    for c in ordered[1:]:
        by_format.setdefault(_format(c.source), []).append(c)
    formats = sorted(by_format, key=lambda f: (f != _format(chosen[0].source), f))
    while len(chosen) < n and any(by_format.values()):
        for fmt in formats:
            pool = by_format[fmt]
            if not pool or len(chosen) >= n:
                continue
            left = n - len(chosen)
            step = max(1, len(pool) // max(left, 1))
            chosen.append(pool.pop(min(len(pool) - 1, step - 1) if known else 0))
    return chosen


def candidates_of(set_plan: SetPlan) -> dict[str, list[Candidate]]:
    """Every create/replace of ``set_plan``'s calls by output address, with its source's size when known."""
    found: dict[str, list[Candidate]] = {}
    for call, size in set_plan.sized_calls():
        rules = {(op.bucket, op.key): op.rule for op in call.rules}
        for change in call.changes():
            if change.action in (ActionKind.CREATE, ActionKind.REPLACE):
                found.setdefault(change.address, []).append(Candidate(
                    call.key, size, change.bucket, change.key, rules[(change.bucket, change.key)],
                    change.action is ActionKind.REPLACE))
    return found


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


def size_ratios(preview: Preview) -> Mapping[tuple[str, str], float]:
    """Output/source size ratio per (set, output address) measured by the preview (for the plan estimate)."""
    return {(a.set_name, a.address): ratio for a in preview.addresses if (ratio := a.size_ratio) is not None}
