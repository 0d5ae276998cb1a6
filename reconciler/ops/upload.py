"""``cosrecon upload``'s operation: local files mapped to keys, then the one workflow (``apply.workflow.run_sets``):
the sets locked, a plan made with the files as if they stood (``plan.extra``), shown with what apply will refuse,
budget and cost checked, confirmed, then executed by ``apply.ingest.IngestEngine`` and compacted.

Idempotent: a file whose key stands with the same content (the ETag its upload gives it: its MD5, or the multipart
ETag of a large file) is not PUT again, and its outputs are made only where the plan finds them missing or stale
(``force``: PUT again, outputs remade); a key standing with other content is refused unless ``overwrite`` (the plan
then replaces its outputs, the source having changed). Prints and asks nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from reconciler.apply.contract import ApplyOptions, ApplyReport, BackendLike
from reconciler.apply.ingest import IngestEngine, LocalFile, UploadCounts
from reconciler.apply.workflow import Callbacks, Operation, RunSettings, run_sets
from reconciler.errors import UsageError
from reconciler.model import ActionKind, Declaration, Ledger, Plan, PlanActions, SetPlan
from reconciler.pacing import with_retries
from reconciler.plan.extra import ExtraSources, selector
from reconciler.plan.observed import LedgerReader, PlanBackend, plan_declarations
from reconciler.ops.compose import Connection, connect, pool_for
from reconciler.plan.targets import FORGOTTEN_ETAG
from reconciler.state.locks import HeldLock
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


class _UploadRun:
    """Upload's two steps of the one workflow: how it plans (the files as if they stood, narrowed to their keys)
    and what executes the plan (``IngestEngine``); what they find is kept for the outcome."""

    def __init__(self, files: Sequence[LocalFile], settings: IngestSettings, undeclared: Collection[str],
                 region: str) -> None:
        self.files, self.settings, self.undeclared, self.region = files, settings, undeclared, region
        self.refused: set[str] = set()
        self.kept: list[LocalFile] = []
        self.uploads: dict[str, LocalFile] = {}
        self.counts = UploadCounts()

    def plan(self, sets: Sequence[Declaration], backend: BackendLike) -> Plan:
        settings = self.settings
        extra = ExtraSources(settings.bucket, {f.key: f.etag for f in self.files}, settings.overwrite)
        planning = _Forcing(backend, settings.bucket, extra.etags) if settings.force else backend
        plan = plan_declarations(sets, planning, extra=extra)
        standing = dict(extra.standing)
        self.refused = set(extra.refused)
        by_key = {f.key: f for f in self.files}
        storage = backend.storage(self.region)
        for key in self.undeclared:  # not in any set's listing: HEAD them
            head = with_retries(lambda: storage.head_object(settings.bucket, key), settings.options.retry)
            if head is not None:
                standing[key] = head.etag
                if head.etag != by_key[key].etag and not settings.overwrite:
                    self.refused.add(key)
        self.kept = [f for f in self.files if f.key not in self.refused]
        self.uploads = {f.key: f for f in self.kept if settings.force or standing.get(f.key) != f.etag}
        return only_keys(plan, {f.key for f in self.kept})

    def execute(self, plan: Plan, sets: Sequence[Declaration], backend: BackendLike, options: ApplyOptions,
                locks: Mapping[str, HeldLock]) -> ApplyReport:
        engine = IngestEngine(plan, sets, backend, options, locks, self.uploads, self.settings.bucket, self.region)
        report = engine.run()
        self.counts = engine.counts
        return report


def ingest(files: Sequence[LocalFile], decls: Sequence[Declaration], backend: BackendLike, settings: IngestSettings,
           callbacks: Callbacks = Callbacks()) -> IngestOutcome:
    """Upload ``files`` to ``settings.bucket`` with the outputs the sets whose source bucket it is declare, through
    the one workflow (lock, plan, show, what apply will refuse, budget and cost, confirm, execute, compact)."""
    sets = [d for d in decls if d.bucket == settings.bucket]
    if not sets:
        raise UsageError(f"no declaration has source bucket {settings.bucket!r}; nothing was uploaded")
    chosen = [selector(d) for d in sets]
    undeclared = [f.key for f in files if not any(c(f.key) for c in chosen)]
    if settings.only_declared and undeclared:
        raise UsageError(f"{len(undeclared)} file(s) no declaration selects (e.g. {undeclared[0]!r}) with "
                         f"--only-declared; nothing was uploaded")
    run = _UploadRun(files, settings, undeclared, sets[0].region)
    run_settings = RunSettings(options=settings.options, operation=Operation.UPLOAD, plan_step=run.plan,
                               engine=run.execute)
    outcome = run_sets(sets, backend, run_settings, callbacks)
    return IngestOutcome(outcome.plan, outcome.report, run.counts,
                         tuple(f.key for f in run.kept if f.key not in run.uploads), tuple(sorted(run.refused)))


def upload(files: Sequence[LocalFile], decls: Sequence[Declaration], connection: Connection,
           settings: IngestSettings, callbacks: Callbacks = Callbacks()) -> IngestOutcome:
    """``ingest`` on the backend ``connection`` names (the upload bucket created on an embedded server)."""
    with connect(connection, decls, buckets=[settings.bucket],
                 pool_size=pool_for(settings.options.parallelism)) as backend:
        return ingest(files, decls, backend, settings, callbacks)
