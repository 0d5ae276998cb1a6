"""Observe what a plan needs, through ``Storage``, and hand it to the pure planner. Never writes, takes no lock.

For each set: list the fixed prefixes of the include globs in the source bucket; then the prefixes under which
expected outputs fall, per destination bucket (absolute fileids: the template's literal prefix; relative ones:
the directories of the source prefixes) — each (bucket, prefix) listed once, a prefix inside one already listed
never again, and one listing serving as both sources and outputs. Where only a few outputs are expected, HEAD them
instead (never one request per object for large sets). Recorded outputs outside everything listed (an old fileid,
an old bucket) are HEADed or listed too, so orphans are known to exist or be gone. Requests ~ objects / 1000.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.declarations import declaration_digest
from reconciler.diffing import rule_changes
from reconciler.globs import Selector, merge_prefixes
from reconciler.model import Declaration, Ledger, ObjectInfo, Plan, SetPlan
from reconciler.planner import build_set_plan, expected_outputs, never_under
from reconciler.storage import Storage

HEAD_LIMIT = 50  # expected outputs up to which HEADs (one request each) replace a listing
PAGE = 1000  # objects per list request
_SLASHES = re.compile(r"/{2,}")

Progress = Callable[[int], None]


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


def _list(storage: Storage, bucket: str, prefixes: Iterable[str], obs: Observation, progress: Progress | None,
          sink: list[ObjectInfo] | None) -> None:
    objects = obs.existing.setdefault(bucket, {})
    listed = list(obs.listed.get(bucket, ()))
    seen = sum(len(v) for v in obs.existing.values())
    for prefix in prefixes:
        if any(prefix.startswith(p) for p in listed):
            continue  # inside a prefix already listed
        count = 0
        for info in storage.list_objects(bucket, prefix):
            objects[info.key] = info.etag
            if sink is not None:
                sink.append(info)
            count += 1
            if progress is not None and count % PAGE == 0:
                progress(seen + count)
        obs.list_requests += max(1, -(-count // PAGE))
        seen += count
        listed.append(prefix)
        if progress is not None:
            progress(seen)
    obs.listed[bucket] = tuple(listed)


def _head(storage: Storage, bucket: str, keys: Iterable[str], obs: Observation) -> None:
    objects = obs.existing.setdefault(bucket, {})
    for key in sorted(set(keys)):
        if key in objects:
            continue
        obs.heads += 1
        info = storage.head_object(bucket, key)
        if info is not None:
            objects[info.key] = info.etag


def observe_set(decl: Declaration, storage: Storage, ledger: Ledger, progress: Progress | None = None) -> Observation:
    """List (or HEAD) everything the plan of ``decl`` needs. Raises StorageError as the storage does."""
    obs = Observation()
    sources = source_prefixes(decl)
    outputs = output_prefixes(decl)
    # an output prefix that contains a source prefix (e.g. "" for "/{stem}.webp") is listed once, for both
    wider = [p for p in outputs.get(decl.bucket, ()) if any(s.startswith(p) for s in sources)]
    _list(storage, decl.bucket, merge_prefixes([*sources, *wider]), obs, progress, obs.sources)
    skip = never_under(decl)
    if skip:
        obs.sources = [s for s in obs.sources if not s.key.startswith(skip)]

    # outputs: what is not inside a listing already made, listed -- or HEADed when only a few are expected
    pending = {b: tuple(p for p in prefixes if not obs.covered(b, p)) for b, prefixes in outputs.items()}
    pending = {b: p for b, p in pending.items() if p}
    if pending:
        upper = len(obs.sources) * sum(len(p.outputs) for p in decl.pipelines)
        if upper <= HEAD_LIMIT:
            wanted: dict[str, list[str]] = {}
            for _, bucket, key in expected_outputs(decl, obs.sources):
                if bucket in pending and not obs.covered(bucket, key):
                    wanted.setdefault(bucket, []).append(key)
            for bucket, keys in wanted.items():
                _head(storage, bucket, keys, obs)
                obs.existing.setdefault(bucket, {})
        else:
            for bucket, prefixes in pending.items():
                _list(storage, bucket, prefixes, obs, progress, None)

    # recorded outputs outside everything observed: orphan candidates must be known to exist or not
    stray: dict[str, list[str]] = {}
    for bucket, key in ledger.entries:
        if not obs.covered(bucket, key) and key not in obs.existing.get(bucket, {}):
            stray.setdefault(bucket, []).append(key)
    if sum(len(k) for k in stray.values()) <= HEAD_LIMIT:
        for bucket, keys in stray.items():
            _head(storage, bucket, keys, obs)
    else:
        for bucket, keys in stray.items():
            _list(storage, bucket, merge_prefixes(k[: k.rfind("/") + 1] for k in keys), obs, progress, None)
    return obs


def plan_set(decl: Declaration, storage: Storage, ledger: Ledger, *, prune: bool = False,
             replace_unmanaged: bool = False, progress: Progress | None = None) -> tuple[SetPlan, Observation]:
    """Observe and plan one set."""
    obs = observe_set(decl, storage, ledger, progress)
    plan = build_set_plan(
        decl, obs.sources, obs.existing, ledger,
        prune=prune, replace_unmanaged=replace_unmanaged,
        declaration_digest=declaration_digest(decl),
        rule_changes=rule_changes(ledger.declaration, decl.document),
    )
    return plan, obs


def plan_declarations(decls: Sequence[Declaration], backend: PlanBackend, *, prune: bool = False,
                      replace_unmanaged: bool = False, progress: Progress | None = None) -> Plan:
    """The plan of every set, in order: reads each set's ledger and observes its buckets. Never writes."""
    sets = []
    for decl in decls:
        storage = backend.storage(decl.region)
        ledger = backend.ledgers.read(decl)
        plan, _ = plan_set(decl, storage, ledger, prune=prune, replace_unmanaged=replace_unmanaged, progress=progress)
        sets.append(plan)
    return Plan(tuple(sets))

