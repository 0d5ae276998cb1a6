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

import os
import tempfile
# Over 300 lines: observe_set's concurrent listings share one cache and one stop; issue 23's listing work reshapes it.

from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from reconciler.plan.compiled import output_prefixes, source_prefixes
from reconciler.plan.extra import ExtraSources
from reconciler.declare.load import declaration_digest
from reconciler.declare.globs import Selector, merge_prefixes
from reconciler.state.index import EntryFlags, LedgerIndex
from reconciler.observe.listing import Counter, Listing, ListingCache, Progress
from reconciler.model import Call, Declaration, Ledger, ObjectInfo, Plan, SetPlan, SourceList
from reconciler.plan.overlaps import SharedOutputs
from reconciler.plan.planner import build_set_plan, expected_outputs, never_under
from reconciler.plan.scope import Scope, narrow_prefixes, shard_set_plan
from reconciler.declare.rules import style_name
from reconciler.storage import ImageStyles, Storage

COLUMNAR_FROM = 50_000  # expected outputs from which a set is planned by the columnar engine (plan.columnar)
PLANNER_ENV = "COSRECON_PLANNER"
HEAD_LIMIT = 50  # expected outputs up to which HEADs (one request each) replace a listing
LIST_WORKERS = 8  # (bucket, prefix) listings run at once

_NOTHING: dict[str, str] = {}


class LedgerReader(Protocol):
    def read(self, decl: Declaration) -> Ledger: ...


class PlanBackend(Protocol):
    """What planning needs of ``ops.compose.Backend``: storage per region and the ledger store (read only)."""

    @property
    def ledgers(self) -> LedgerReader: ...

    def storage(self, region: str) -> Storage: ...


@dataclass
class Observation:
    """What one set's plan is made from: source objects, bucket -> {key: etag}, and the requests spent.

    ``confirmed`` (with ``index``, the ledger's entries it numbers): a flag per recorded output, set when a listing
    showed that output with its recorded ETag. Those objects are not put in ``existing`` (converged, that is
    every output: no dict entry, key or ETag string of the listing is kept for them); ``build_set_plan`` takes it.
    """

    source_keys: list[str] = field(default_factory=list)
    source_sizes: array[int] = field(default_factory=lambda: array("q"))  # parallel to source_keys; -1: unknown
    source_mtimes: array[int] = field(default_factory=lambda: array("q"))  # the same, listing.sortable_time
    existing: dict[str, dict[str, str]] = field(default_factory=dict)
    listed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # bucket -> prefixes listed
    heads: int = 0
    list_requests: int = 0
    source_bucket: str = ""
    index: LedgerIndex | None = None
    confirmed: EntryFlags | None = None
    styles: dict[str, str] = field(default_factory=dict)  # the source bucket's image styles (style/ rules only)

    @property
    def sources(self) -> SourceList:
        return SourceList(self.source_keys, self.existing.get(self.source_bucket, _NOTHING))

    @property
    def requests(self) -> int:
        return self.heads + self.list_requests

    def covered(self, bucket: str, key: str) -> bool:
        return any(key.startswith(p) for p in self.listed.get(bucket, ()))


def _record(obs: Observation, listing: Listing) -> None:
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


def read_styles(decl: Declaration, storage: Storage, cache: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    """The source bucket's image styles when a rule of ``decl`` is ``style/<name>`` (read once per bucket with
    ``cache``), else {}."""
    if not any(style_name(o.rule) for p in decl.pipelines for o in p.outputs) or not isinstance(storage, ImageStyles):
        return {}
    if cache is not None and decl.bucket in cache:
        return cache[decl.bucket]
    styles = storage.image_styles(decl.bucket)
    if cache is not None:
        cache[decl.bucket] = styles
    return styles


# 97 lines: the listings run concurrently and share locals (cache, counter, stop); split with issue 23's listing work.
def observe_set(decl: Declaration, storage: Storage, ledger: Ledger,
                progress: Progress | None = None, *, workers: int = LIST_WORKERS,
                cache: ListingCache | None = None, styles: dict[str, dict[str, str]] | None = None,
                extra_keys: Sequence[str] = (), within: Sequence[str] = ()) -> Observation:
    """List (or HEAD) everything the plan of ``decl`` needs. Raises StorageError as the storage does.

    The source listings and the output listings run concurrently (different prefixes are independent; each is
    paged with markers). Output listings start before the sources are known: when the sources turn out to be
    few, any output listing still running is stopped after its page and the expected outputs are HEADed. With ``cache``
    (bucket -> finished listings, shared by the sets of one plan), a prefix an earlier set listed is not listed
    again, and this set's listings are added to it. ``extra_keys``: keys of the source bucket about to be uploaded
    (``plan.extra``), whose outputs are observed as those of listed sources are. ``within``: only sources under
    these prefixes (``--source-prefix``): the source listings are cut to them (``scope.narrow_prefixes``).
    """
    obs = Observation(source_bucket=decl.bucket, styles=read_styles(decl, storage, styles))
    counter = Counter(progress)
    # when the ledger is at hand, objects that stand as it records them are only marked (see _Listing)
    index = confirmed = None
    if ledger.entries:
        index = obs.index = LedgerIndex.of(ledger.entries)
        confirmed = obs.confirmed = EntryFlags(index.size)
    skip = never_under(decl)
    matchers = [Selector(p.source.include, p.source.exclude, skip).matches for p in decl.pipelines]
    select = matchers[0] if len(matchers) == 1 else (lambda key: any(m(key) for m in matchers))
    sources = narrow_prefixes(source_prefixes(decl), within)
    outputs = _narrow_outputs(decl, output_prefixes(decl), within)
    # an output prefix that contains a source prefix (e.g. "" for "/{stem}.webp") is listed once, for both
    wider = [p for p in outputs.get(decl.bucket, ()) if any(s.startswith(p) for s in sources)] if not within else []
    source_listings = [Listing(storage, decl.bucket, p, True, counter, select, index, confirmed)
                       for p in merge_prefixes([*sources, *wider])]
    covered = {decl.bucket: tuple(x.prefix for x in source_listings)}
    output_listings = [Listing(storage, bucket, p, False, counter, None, index, confirmed)
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
            obs.source_keys = [k for x in source_listings for k in x.sources if not (skip and k.startswith(skip))]
            if len(source_listings) == 1 and len(obs.source_keys) == len(source_listings[0].sources):
                obs.source_sizes = source_listings[0].source_sizes  # the listing's very sources: shared, not copied
                obs.source_mtimes = source_listings[0].source_mtimes
            else:
                obs.source_sizes = array("q", (size for x in source_listings
                                               for key, size in zip(x.sources, x.source_sizes)
                                               if not (skip and key.startswith(skip))))
                obs.source_mtimes = array("q", (mtime for x in source_listings
                                                for key, mtime in zip(x.sources, x.source_mtimes)
                                                if not (skip and key.startswith(skip))))
            few = (len(obs.source_keys) + len(extra_keys)) * sum(len(p.outputs) for p in decl.pipelines) <= HEAD_LIMIT
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
        upcoming = SourceList(list(extra_keys), dict.fromkeys(extra_keys, ""))
        for _, bucket, key in (*expected_outputs(decl, obs.sources), *expected_outputs(decl, upcoming)):
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
    entries = ledger.entries
    stray: dict[str, list[str]] = {}
    existing = obs.existing
    if index is not None and confirmed is not None:
        for group, j in index.unflagged(confirmed):
            bucket, key = index.bucket_at(group, j), index.key_at(group, j)
            if key not in existing.get(bucket, _NOTHING) and not obs.covered(bucket, key):
                stray.setdefault(bucket, []).append(key)
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
                    _record(obs, Listing(storage, bucket, prefix, False, counter).run())
    return obs


def _narrow_outputs(decl: Declaration, outputs: dict[str, tuple[str, ...]],
                    within: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``outputs`` cut to the directories of ``within`` in the buckets only relative fileids write to (their outputs
    lie under their source's directory); a bucket an absolute fileid writes to is listed as declared."""
    if not within:
        return outputs
    absolute = {decl.output_bucket(o) for p in decl.pipelines for o in p.outputs if o.fileid.startswith("/")}
    dirs = [q[: q.rfind("/") + 1] for q in within]
    return {b: p if b in absolute else narrow_prefixes(p, dirs) for b, p in outputs.items()}


def _rule_changes(ledger: Ledger, decl: Declaration) -> dict[str, tuple[str, str]]:
    if ledger.declaration is None:
        return {}
    from reconciler.plan.diffing import rule_changes  # deepdiff is slow to import: only when there is something to diff

    return rule_changes(ledger.declaration, decl.document)


def plan_set(decl: Declaration, storage: Storage, ledger: Ledger, *, prune: bool = False,
             replace_unmanaged: bool = False, progress: Progress | None = None,
             cache: ListingCache | None = None,
             styles: dict[str, dict[str, str]] | None = None,
             extra: ExtraSources | None = None, scope: Scope | None = None) -> tuple[SetPlan, Observation]:
    """Observe and plan one set; ``extra``: files about to be uploaded, planned as if they stood; ``scope``: source
    prefixes and shard (``plan.scope``)."""
    upcoming = sorted(extra.etags) if extra is not None and extra.bucket == decl.bucket else []
    within = scope.source_prefixes if scope is not None else ()
    obs = observe_set(decl, storage, ledger, progress, cache=cache, styles=styles, extra_keys=upcoming, within=within)
    if extra is not None:
        obs.source_keys = extra.overlay(decl, obs.source_keys, obs.existing)
    plan = plan_observed(decl, obs, ledger, prune=prune,
                         replace_unmanaged=replace_unmanaged, declaration_digest=declaration_digest(decl),
                         rule_changes=_rule_changes)
    if scope is not None:
        plan = shard_set_plan(plan, decl, obs.sources, scope.shard)
    return plan, obs


def plan_observed(decl: Declaration, obs: Observation, ledger: Ledger, *, prune: bool = False,
                  replace_unmanaged: bool = False, declaration_digest: str = "",
                  rule_changes: Callable[[Ledger, Declaration], dict[str, tuple[str, str]]] | None = None) -> SetPlan:
    """The plan of what ``obs`` saw: ``build_set_plan`` given the ledger's entries as the index the observation's
    ``confirmed`` numbers."""
    if obs.index is not None:
        ledger = replace(ledger, entries=obs.index)
    expected = len(obs.source_keys) * sum(len(p.outputs) for p in decl.pipelines)
    # The columnar engine knows no unprocessable sources yet (issue 26's ledger field): a ledger that records some
    # is planned by the Python planner, which skips them.
    columnar = use_columnar(expected) and not ledger.unprocessable
    planner = plan_with_engine if columnar else build_set_plan
    plan = planner(
        decl, obs.sources, obs.existing, ledger, confirmed=obs.confirmed,
        prune=prune, replace_unmanaged=replace_unmanaged, declaration_digest=declaration_digest,
        rule_changes=rule_changes(ledger, decl) if rule_changes is not None else None, styles=obs.styles,
    )
    return replace(plan, rates=dict(ledger.rates),  # measured rates, carried whichever engine planned
                   source_sizes=call_sizes(plan.calls, obs.source_keys, obs.source_sizes),
                   source_mtimes=call_sizes(plan.calls, obs.source_keys, obs.source_mtimes))


def use_columnar(expected: int) -> bool:
    """Whether a set of ``expected`` outputs is planned by the columnar engine: from ``COLUMNAR_FROM`` on, or as
    ``$COSRECON_PLANNER`` says (``python``, ``columnar`` or ``auto``: the default)."""
    choice = os.environ.get(PLANNER_ENV, "auto")
    return choice == "columnar" or (choice != "python" and expected >= COLUMNAR_FROM)


def plan_with_engine(decl: Declaration, sources: Iterable[ObjectInfo], existing: Mapping[str, Mapping[str, str]],
                     ledger: Ledger, **options: Any) -> SetPlan:
    """``columnar.build_set_plan_columnar`` on an engine of its own, spilling to a temporary folder removed after
    (DuckDB and Arrow are imported only here: ~0.3 s that small plans do not pay)."""
    from reconciler.plan.columnar import build_set_plan_columnar
    from reconciler.query.engine import Engine

    with tempfile.TemporaryDirectory(prefix="cosrecon-engine-") as spill, Engine(temp_directory=spill) as engine:
        return build_set_plan_columnar(decl, sources, existing, ledger, engine=engine, **options)


def call_sizes(calls: Sequence[Call], keys: Sequence[str], sizes: Sequence[int]) -> array[int] | None:
    """The source size (or LastModified) of each call (parallel to ``calls``; -1 where the listing did not show it),
    found by one
    merge walk: the planner makes calls in source order (a source with more than five rules makes several calls in
    a row). None when the sizes are not at hand or a call's source is not found in order."""
    if len(sizes) != len(keys):
        return None
    found = array("q")
    i, n = 0, len(keys)
    for call in calls:
        while i < n and keys[i] != call.key:
            i += 1
        if i == n:
            return None
        found.append(sizes[i])
    return found


def carry_sizes(plan: Plan, fresh: Plan) -> Plan:
    """``plan`` (a saved plan, as reviewed) with its calls' source sizes taken from ``fresh`` (the plan made now, which
    knows them from its listings), by one merge walk per set; a call whose source ``fresh`` has not stays unknown."""
    by_name = {s.name: s for s in fresh.sets}
    sets = []
    for s in plan.sets:
        now = by_name.get(s.name)
        sizes = mtimes = None
        if now is not None and now.source_sizes is not None:
            known = [(call.key, -1 if size is None else size) for call, size in now.sized_calls()]
            sizes = call_sizes(s.calls, [k for k, _ in known], [z for _, z in known])
        if now is not None and now.source_mtimes is not None and len(now.source_mtimes) == len(now.calls):
            mtimes = call_sizes(s.calls, [c.key for c in now.calls], now.source_mtimes)
        sets.append(replace(s, source_sizes=sizes, source_mtimes=mtimes))
    return Plan(tuple(sets))


def plan_declarations(decls: Sequence[Declaration], backend: PlanBackend, *, prune: bool = False,
                      replace_unmanaged: bool = False, progress: Progress | None = None,
                      extra: ExtraSources | None = None, scope: Scope | None = None) -> Plan:
    """The plan of every set, in order: reads each set's ledger and observes its buckets. Never writes.
    ``extra``: files ``cosrecon upload`` is about to upload, planned as if they stood (``plan.extra``); ``scope``:
    inventory reports to list from, source prefixes and shard (``plan.scope``)."""
    sets = []
    cache: dict[str, ListingCache] = {}  # per region: a (bucket, prefix) is listed once for all the sets
    shared = SharedOutputs(decls)
    styles: dict[str, dict[str, str]] = {}  # bucket -> its image styles, read once per plan
    for number, decl in enumerate(decls):
        storage = backend.storage(decl.region)
        if scope is not None:
            storage = scope.inventories.storage(storage)
        # the ledger first, then the listings: what the ledger records was made before anything is listed
        ledger = backend.ledgers.read(decl)
        if scope is not None:
            ledger = scope.narrow_ledger(ledger)
        plan, obs = plan_set(decl, storage, ledger, prune=prune, replace_unmanaged=replace_unmanaged,
                             progress=progress, cache=cache.setdefault(decl.region, {}), styles=styles,
                             extra=extra, scope=scope)
        shared.add(number, obs.sources)
        sets.append(plan)
    return Plan(tuple(sets))

