"""``cosrecon upload``'s workflow: local files mapped to keys, the sets locked, a plan made with the files as if they
stood (``plan.extra``), shown and confirmed, then executed by ``ingest.IngestEngine`` and compacted.

Idempotent: a file whose key stands with the same content (the ETag its upload gives it: its MD5, or the multipart
ETag of a large file) is not PUT again, and its outputs are made only where the plan finds them missing or stale
(``force``: PUT again, outputs remade); a key standing with other content is refused unless ``overwrite`` (the plan
then replaces its outputs, the source having changed). Prints and asks nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler.apply.contract import ApplyOptions, ApplyReport, BackendLike, check_budget
from reconciler.apply.ingest import IngestEngine, LocalFile, UploadCounts
from reconciler.apply.locking import lock_sets
from reconciler.apply.workflow import Callbacks
from reconciler.errors import UsageError
from reconciler.model import ActionKind, Declaration, Ledger, Plan, PlanActions, SetPlan
from reconciler.pacing import with_retries
from reconciler.plan.extra import ExtraSources, selector
from reconciler.plan.observed import LedgerReader, PlanBackend, plan_declarations
from reconciler.plan.targets import FORGOTTEN_ETAG
from reconciler.storage import Storage


@dataclass(frozen=True)
class IngestSettings:
    bucket: str
    options: ApplyOptions = ApplyOptions()
    overwrite: bool = False  # replace keys standing with other content (and so their outputs)
    force: bool = False  # PUT files standing with the same content again, and remake their recorded outputs
    only_declared: bool = False  # refuse files no set selects instead of uploading them plainly


@dataclass(frozen=True)
class IngestOutcome:
    """The plan executed, the engine's report, the upload counts, and the keys not uploaded."""

    plan: Plan
    report: ApplyReport
    counts: UploadCounts
    unchanged: tuple[str, ...]  # standing with the same content: not PUT again
    refused: tuple[str, ...]  # standing with other content (without ``overwrite``)


def local_files(paths: Sequence[Path], prefix: str = "") -> list[LocalFile]:
    """Each file of ``paths`` (folders walked, their structure kept) with its key under ``prefix`` and the ETag its
    upload will give it; UsageError for a missing path, or two files mapped to one key."""
    files: dict[str, LocalFile] = {}
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
        found = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in found:
            relative = file.relative_to(path).as_posix() if path.is_dir() else file.name
            key = prefix + relative
            if key in files:
                raise UsageError(f"{file} and {files[key].path} both map to key {key!r}; nothing was uploaded")
            files[key] = LocalFile.of(file, key)
    return [files[k] for k in sorted(files)]


def only_keys(plan: Plan, keys: Collection[str]) -> Plan:
    """The plan's calls on ``keys`` and the conflicts of their outputs; nothing else (no deletes, no orphans)."""
    def narrowed(s: SetPlan) -> SetPlan:
        calls = tuple(c for c in s.calls if c.key in keys)
        others = [a for a in s.actions if a.action is ActionKind.CONFLICT and a.source in keys]
        return replace(s, actions=PlanActions(calls, others), calls=calls)

    return Plan(tuple(narrowed(s) for s in plan.sets))


class _Forcing:
    """A planning backend whose ledgers forget the output ETags recorded for ``keys`` of ``bucket`` (``--force``):
    the planner then plans those outputs as changed, to be remade (as ``--replace`` does)."""

    def __init__(self, backend: PlanBackend, bucket: str, keys: Collection[str]) -> None:
        self._backend, self._bucket, self._keys = backend, bucket, keys

    @property
    def ledgers(self) -> LedgerReader:
        return self

    def read(self, decl: Declaration) -> Ledger:
        ledger = self._backend.ledgers.read(decl)
        if decl.bucket != self._bucket:
            return ledger
        entries = {where: replace(e, output_etag=FORGOTTEN_ETAG) if e.source_key in self._keys else e
                   for where, e in ledger.entries.items()}
        return replace(ledger, entries=entries)

    def storage(self, region: str) -> Storage:
        return self._backend.storage(region)


def ingest(files: Sequence[LocalFile], decls: Sequence[Declaration], backend: BackendLike, settings: IngestSettings,
           callbacks: Callbacks = Callbacks()) -> IngestOutcome:
    """Upload ``files`` to ``settings.bucket`` with the outputs the sets whose source bucket it is declare."""
    sets = [d for d in decls if d.bucket == settings.bucket]
    if not sets:
        raise UsageError(f"no declaration has source bucket {settings.bucket!r}; nothing was uploaded")
    chosen = [selector(d) for d in sets]
    undeclared = [f.key for f in files if not any(c(f.key) for c in chosen)]
    if settings.only_declared and undeclared:
        raise UsageError(f"{len(undeclared)} file(s) no declaration selects (e.g. {undeclared[0]!r}) with "
                         f"--only-declared; nothing was uploaded")
    options = settings.options
    storage = backend.storage(sets[0].region)
    with lock_sets(sets, backend, options, operation="upload") as locks:
        extra = ExtraSources(settings.bucket, {f.key: f.etag for f in files}, settings.overwrite)
        with callbacks.planning():
            planning = _Forcing(backend, settings.bucket, extra.etags) if settings.force else backend
            plan = plan_declarations(sets, planning, extra=extra)
        standing = dict(extra.standing)
        refused = set(extra.refused)
        by_key = {f.key: f for f in files}
        for key in undeclared:  # not in any set's listing: HEAD them
            head = with_retries(lambda: storage.head_object(settings.bucket, key), options.retry)
            if head is not None:
                standing[key] = head.etag
                if head.etag != by_key[key].etag and not settings.overwrite:
                    refused.add(key)
        kept = [f for f in files if f.key not in refused]
        plan = only_keys(plan, {f.key for f in kept})
        uploads = {f.key: f for f in kept if settings.force or standing.get(f.key) != f.etag}
        callbacks.show(plan)
        check_budget(plan, options)
        callbacks.confirm(plan)
        engine = IngestEngine(plan, sets, backend, options, locks, uploads, settings.bucket, sets[0].region)
        report = engine.run()
    return IngestOutcome(plan, report, engine.counts, tuple(f.key for f in kept if f.key not in uploads),
                         tuple(sorted(refused)))
