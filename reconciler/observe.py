"""Observe what a plan needs, through ``Storage``, and hand it to the pure planner. Never writes, takes no lock.

For each set: read its ledger; list the fixed prefixes of the include globs in the source bucket and the prefixes
under which expected outputs fall, per destination bucket (absolute fileids: the template's literal prefix;
relative ones: the directories of the source prefixes). Each (bucket, prefix) is listed once — a prefix inside one
already listed never again, one listing serving as both sources and outputs, and the sets of one plan sharing
their listings — and the listings run concurrently. Where only a few outputs are expected, HEAD them instead
(never one request per object for large sets). Recorded outputs outside everything listed (an old fileid, an old
bucket) are HEADed or listed too, so orphans are known to exist or be gone. Requests ~ objects / 1000.
"""
from __future__ import annotations

import gc
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.declarations import declaration_digest
from reconciler.globs import Selector, merge_prefixes
from reconciler.ledger import EntryTable
from reconciler.model import Declaration, Ledger, LedgerEntry, ObjectInfo, Plan, SetPlan
from reconciler.planner import build_set_plan, expected_outputs, never_under
from reconciler.storage import Storage

HEAD_LIMIT = 50  # expected outputs up to which HEADs (one request each) replace a listing
PAGE = 1000  # objects per list request
LIST_WORKERS = 8  # (bucket, prefix) listings run at once
_SLASHES = re.compile(r"/{2,}")

Progress = Callable[[int], None]
_NOTHING: dict[str, str] = {}
ListingCache = dict[str, list["_Listing"]]


class LedgerReader(Protocol):
    def read(self, decl: Declaration) -> Ledger: ...


class PlanBackend(Protocol):
    """What planning needs of ``backend.Backend``: storage per region and the ledger store (read only)."""

    @property
    def ledgers(self) -> LedgerReader: ...

    def storage(self, region: str) -> Storage: ...


@dataclass
class Observation:
    """What one set's plan is made from: source objects, bucket -> {key: etag}, and the requests spent."""

    sources: list[ObjectInfo] = field(default_factory=list)
    existing: dict[str, dict[str, str]] = field(default_factory=dict)
    listed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # bucket -> prefixes listed
    heads: int = 0
    list_requests: int = 0

    @property
    def requests(self) -> int:
        return self.heads + self.list_requests

    def covered(self, bucket: str, key: str) -> bool:
        return any(key.startswith(p) for p in self.listed.get(bucket, ()))


def template_prefix(template: str) -> str:
    """The literal start of an absolute fileid template, as a key prefix (``/thumbs/{dir}/x`` -> ``thumbs/``)."""
    literal = template.split("{", 1)[0]
    return _SLASHES.sub("/", literal).lstrip("/")


def source_prefixes(decl: Declaration) -> tuple[str, ...]:
    """The fewest prefixes of the source bucket that cover every pipeline's include globs."""
    return merge_prefixes(p for pipeline in decl.pipelines
                          for p in Selector(pipeline.source.include).list_prefixes())


def output_prefixes(decl: Declaration) -> dict[str, tuple[str, ...]]:
    """bucket -> the fewest prefixes under which the set's expected outputs fall."""
    wanted: dict[str, set[str]] = {}
    for pipeline in decl.pipelines:
        dirs = {p[: p.rfind("/") + 1] for p in Selector(pipeline.source.include).list_prefixes()}
        for output in pipeline.outputs:
            bucket = decl.output_bucket(output)
            if output.fileid.startswith("/"):
                wanted.setdefault(bucket, set()).add(template_prefix(output.fileid))
            else:  # relative: under the source's directory, which lies under the include's directory
                wanted.setdefault(bucket, set()).update(dirs)
    return {b: merge_prefixes(p) for b, p in wanted.items()}


class _Listing:
    """One (bucket, prefix) listing, run on a worker thread; ``cancel`` stops it after the current page.

    Memory (10^6 sources x 3 outputs): ``objects`` holds every listed key and ETag; an object that stands as the
    ledger recorded it (``recorded``: the ledger's {key: entry} for this bucket) is held with the ledger's own key
    and ETag strings, so the listing's copies are freed. ``infos`` (sources) keeps only the key and ETag of the
    objects ``select`` accepts (no size, no date), sharing the strings of ``objects``.
    """

    def __init__(self, storage: Storage, bucket: str, prefix: str, keep_infos: bool, counter: _Counter,
                 select: Callable[[str], bool] | None = None,
                 recorded: Mapping[str, LedgerEntry] | None = None) -> None:
        self.storage, self.bucket, self.prefix = storage, bucket, prefix
        self.keep_infos = keep_infos
        self.counter = counter
        self.select = select
        self.recorded = recorded
        self.objects: dict[str, str] = {}
        self.infos: list[ObjectInfo] = []
        self.count = 0
        self.complete = False
        self.reused = False
        self.cancelled = threading.Event()

    def reuse(self, cache: ListingCache | None) -> bool:
        """Take the objects from a finished listing of this set or an earlier one that encloses this prefix."""
        for done in (cache or {}).get(self.bucket, ()):
            if done.complete and self.prefix.startswith(done.prefix):
                prefix, select = self.prefix, self.select
                self.objects = {k: v for k, v in done.objects.items() if k.startswith(prefix)}
                if self.keep_infos:
                    self.infos = [ObjectInfo(k, v) for k, v in self.objects.items() if select is None or select(k)]
                self.count, self.complete, self.reused = len(self.objects), True, True
                return True
        return False

    def run(self) -> _Listing:
        objects, infos, keep, select = self.objects, self.infos, self.keep_infos, self.select
        recorded = self.recorded or None
        for info in self.storage.list_objects(self.bucket, self.prefix):
            key, etag = info.key, info.etag
            if recorded is not None:
                entry = recorded.get(key)
                if entry is not None and entry.output_etag == etag:
                    key, etag = entry.key, entry.output_etag
            objects[key] = etag
            if keep and (select is None or select(key)):
                infos.append(ObjectInfo(key, etag))
            self.count += 1
            if self.count % PAGE == 0:
                self.counter.add(PAGE)
                if self.cancelled.is_set():
                    return self
        self.counter.add(self.count % PAGE)
        self.complete = True
        return self

    @property
    def requests(self) -> int:
        return 0 if self.reused else max(1, -(-self.count // PAGE))


class _Counter:
    """Objects listed so far, across threads, reported to the progress callback."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.total = 0
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        with self.lock:
            self.total += n
            if self.progress is not None:
                self.progress(self.total)


def _record(obs: Observation, listing: _Listing) -> None:
    obs.list_requests += listing.requests
    if not listing.complete:
        return
    objects = obs.existing.setdefault(listing.bucket, {})
    if objects:
        objects.update(listing.objects)
    else:
        obs.existing[listing.bucket] = listing.objects
    obs.listed[listing.bucket] = (*obs.listed.get(listing.bucket, ()), listing.prefix)


def _head(storage: Storage, bucket: str, keys: Iterable[str], obs: Observation) -> None:
    objects = obs.existing.setdefault(bucket, {})
    for key in sorted(set(keys)):
        if key in objects:
            continue
        obs.heads += 1
        info = storage.head_object(bucket, key)
        if info is not None:
            objects[info.key] = info.etag


def observe_set(decl: Declaration, storage: Storage, ledger: Ledger | Callable[[], Ledger],
                progress: Progress | None = None, *, workers: int = LIST_WORKERS,
                cache: ListingCache | None = None) -> Observation:
    """List (or HEAD) everything the plan of ``decl`` needs. Raises StorageError as the storage does.

    The source listings and the output listings run concurrently (different prefixes are independent; each is
    paged with markers). Output listings start before the sources are known: when the sources turn out to be
    few, any output listing still running is stopped after its page and the expected outputs are HEADed.
    ``ledger`` may be a callable (e.g. a future's ``result``): it is needed only at the end. With ``cache``
    (bucket -> finished listings, shared by the sets of one plan), a prefix an earlier set listed is not listed
    again, and this set's listings are added to it.
    """
    obs = Observation()
    counter = _Counter(progress)
    # the ledger's strings for what is listed, when the ledger is at hand (see _Listing); a source is an object
    # that some pipeline selects
    recorded: Mapping[str, Mapping[str, LedgerEntry]] = {}
    if not callable(ledger) and isinstance(ledger.entries, EntryTable):
        recorded = ledger.entries.by_bucket
    skip = never_under(decl)
    matchers = [Selector(p.source.include, p.source.exclude, skip).matches for p in decl.pipelines]
    select = matchers[0] if len(matchers) == 1 else (lambda key: any(m(key) for m in matchers))
    sources = source_prefixes(decl)
    outputs = output_prefixes(decl)
    # an output prefix that contains a source prefix (e.g. "" for "/{stem}.webp") is listed once, for both
    wider = [p for p in outputs.get(decl.bucket, ()) if any(s.startswith(p) for s in sources)]
    source_listings = [_Listing(storage, decl.bucket, p, True, counter, select, recorded.get(decl.bucket))
                       for p in merge_prefixes([*sources, *wider])]
    covered = {decl.bucket: tuple(x.prefix for x in source_listings)}
    output_listings = [_Listing(storage, bucket, p, False, counter, None, recorded.get(bucket))
                       for bucket, prefixes in outputs.items()
                       for p in prefixes if not any(p.startswith(c) for c in covered.get(bucket, ()))]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cosrecon-list") as pool:
        source_futures = [pool.submit(x.run) for x in source_listings if not x.reuse(cache)]
        output_futures = [pool.submit(x.run) for x in output_listings if not x.reuse(cache)]
        for x in (*source_listings, *output_listings):
            if x.reused:
                _record(obs, x)
        try:
            for future in source_futures:
                _record(obs, future.result())
            obs.sources = [i for x in source_listings for i in x.infos if not (skip and i.key.startswith(skip))]
            few = len(obs.sources) * sum(len(p.outputs) for p in decl.pipelines) <= HEAD_LIMIT
            if few:
                for x in output_listings:
                    x.cancelled.set()
            for future in output_futures:
                _record(obs, future.result())
        except BaseException:  # a failed listing or Ctrl-C: stop the others after their current page
            for x in (*source_listings, *output_listings):
                x.cancelled.set()
            raise
    unfinished = {x.bucket for x in output_listings if not x.complete}
    if unfinished:  # few sources: HEAD the expected outputs no finished listing covers
        wanted: dict[str, list[str]] = {}
        for _, bucket, key in expected_outputs(decl, obs.sources):
            if bucket in unfinished and not obs.covered(bucket, key):
                wanted.setdefault(bucket, []).append(key)
        for bucket, keys in wanted.items():
            _head(storage, bucket, keys, obs)
    for x in output_listings:
        obs.existing.setdefault(x.bucket, {})
    if cache is not None:
        for x in (*source_listings, *output_listings):
            if x.complete and not x.reused:
                cache.setdefault(x.bucket, []).append(x)

    # recorded outputs outside everything observed: orphan candidates must be known to exist or not
    entries = (ledger() if callable(ledger) else ledger).entries
    stray: dict[str, list[str]] = {}
    existing = obs.existing
    if isinstance(entries, EntryTable):
        for bucket, recorded_keys in entries.by_bucket.items():
            present = existing.get(bucket, _NOTHING)
            missing = [k for k in recorded_keys if k not in present and not obs.covered(bucket, k)]
            if missing:
                stray.setdefault(bucket, []).extend(missing)
    else:
        for bucket, key in entries:
            if key not in existing.get(bucket, _NOTHING) and not obs.covered(bucket, key):
                stray.setdefault(bucket, []).append(key)
    if sum(len(k) for k in stray.values()) <= HEAD_LIMIT:
        for bucket, keys in stray.items():
            _head(storage, bucket, keys, obs)
    else:
        for bucket, keys in stray.items():
            for prefix in merge_prefixes(k[: k.rfind("/") + 1] for k in keys):
                if not obs.covered(bucket, prefix):
                    _record(obs, _Listing(storage, bucket, prefix, False, counter).run())
    return obs


def _rule_changes(ledger: Ledger, decl: Declaration) -> dict[str, tuple[str, str]]:
    if ledger.declaration is None:
        return {}
    from reconciler.diffing import rule_changes  # deepdiff is slow to import: only when there is something to diff

    return rule_changes(ledger.declaration, decl.document)


def plan_set(decl: Declaration, storage: Storage, ledger: Ledger | Callable[[], Ledger], *, prune: bool = False,
             replace_unmanaged: bool = False, progress: Progress | None = None,
             cache: ListingCache | None = None) -> tuple[SetPlan, Observation]:
    """Observe and plan one set (``ledger`` may be a callable, called once the listings are under way)."""
    obs = observe_set(decl, storage, ledger, progress, cache=cache)
    ledger = ledger() if callable(ledger) else ledger
    plan = build_set_plan(
        decl, obs.sources, obs.existing, ledger,
        prune=prune, replace_unmanaged=replace_unmanaged,
        declaration_digest=declaration_digest(decl),
        rule_changes=_rule_changes(ledger, decl),
    )
    return plan, obs


def plan_declarations(decls: Sequence[Declaration], backend: PlanBackend, *, prune: bool = False,
                      replace_unmanaged: bool = False, progress: Progress | None = None) -> Plan:
    """The plan of every set, in order: reads each set's ledger and observes its buckets. Never writes."""
    # Observation builds millions of long-lived objects (listed objects, ledger entries): the cyclic GC would
    # rescan them again and again (~10% of a plan's time at 10^4 sources, more beyond). Nothing here makes cycles.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _plan_all(decls, backend, prune=prune, replace_unmanaged=replace_unmanaged, progress=progress)
    finally:
        if paused:
            gc.enable()


def _plan_all(decls: Sequence[Declaration], backend: PlanBackend, *, prune: bool, replace_unmanaged: bool,
              progress: Progress | None) -> Plan:
    sets = []
    cache: dict[str, ListingCache] = {}  # per region: a (bucket, prefix) is listed once for all the sets
    for decl in decls:
        storage = backend.storage(decl.region)
        # the ledger first, then the listings: what the ledger records was made before anything is listed
        ledger = backend.ledgers.read(decl)
        plan, _ = plan_set(decl, storage, ledger, prune=prune, replace_unmanaged=replace_unmanaged, progress=progress,
                           cache=cache.setdefault(decl.region, {}))
        sets.append(plan)
    return Plan(tuple(sets))

